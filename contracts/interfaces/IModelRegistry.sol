// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IModelRegistry
/// @notice Model owners publish ONNX models (content hash, URI, royalty, license fee) as versioned entries.
/// Providers take a license before a device may offer a model.
interface IModelRegistry {
    /// @notice One published model version.
    struct Model {
        /// @notice Current owner; receives license fees and may withdraw royalties.
        address owner;
        /// @notice Royalty in basis points taken from every claimed inference payment.
        uint16 royaltyBps;
        /// @notice True once the owner deprecated the version: no new licenses, offerings or channels.
        bool deprecated;
        /// @notice Version number, 1 for a model without predecessor.
        uint32 version;
        /// @notice Id of the version this one replaces, 0 for none.
        uint64 predecessor;
        /// @notice Token the one-time license fee is paid in (ignored when the fee is 0).
        address licenseToken;
        /// @notice One-time license fee a provider pays to the owner; 0 for a free license.
        uint96 licenseFee;
        /// @notice sha256 of the .onnx file.
        bytes32 contentHash;
        /// @notice Human-readable model name.
        string name;
        /// @notice Where the .onnx file can be fetched from.
        string uri;
    }

    /// @notice Parameters of a new model or version.
    struct ModelParams {
        /// @notice Human-readable model name; must not be empty.
        string name;
        /// @notice sha256 of the .onnx file; must not be zero.
        bytes32 contentHash;
        /// @notice Where the .onnx file can be fetched from.
        string uri;
        /// @notice Royalty in basis points, at most MAX_ROYALTY_BPS.
        uint16 royaltyBps;
        /// @notice Token the license fee is paid in; may be zero only when the fee is 0.
        address licenseToken;
        /// @notice One-time license fee.
        uint96 licenseFee;
    }

    /// @notice How a verifier compares a device's outputs with its own (spot checks, disputes).
    enum ToleranceKind {
        /// @notice The outputs must be the same bytes (the default of a model without a published tolerance).
        Exact,
        /// @notice Every element may differ by at most `bound` x 1e-9.
        Absolute,
        /// @notice Every element may differ by at most `bound` x 1e-9 times the larger of the two magnitudes.
        Relative
    }

    /// @notice A model's declared output tolerance.
    struct Tolerance {
        /// @notice The comparison.
        ToleranceKind kind;
        /// @notice The bound in units of 1e-9 (TOLERANCE_SCALE): 100_000 is 1e-4. Zero for Exact, above zero otherwise.
        uint64 bound;
    }

    /// @notice The model id does not exist.
    /// @param modelId The unknown id.
    error ModelNotFound(uint256 modelId);
    /// @notice The caller is not the owner of the model.
    /// @param modelId The model.
    /// @param caller The caller.
    error NotModelOwner(uint256 modelId, address caller);
    /// @notice The royalty exceeds the cap.
    /// @param royaltyBps The requested royalty.
    /// @param maxBps The cap.
    error RoyaltyTooHigh(uint16 royaltyBps, uint16 maxBps);
    /// @notice The content hash is zero.
    error EmptyContentHash();
    /// @notice The model name is empty.
    error EmptyName();
    /// @notice A license fee was set without a token to pay it in.
    error LicenseTokenMissing();
    /// @notice The model version is deprecated.
    /// @param modelId The model.
    error ModelIsDeprecated(uint256 modelId);
    /// @notice The predecessor already has a successor; versions form a line, not a tree.
    /// @param predecessor The predecessor id.
    /// @param successor Its existing successor.
    error VersionAlreadySuperseded(uint256 predecessor, uint256 successor);
    /// @notice The licensee already holds a license for the model.
    /// @param modelId The model.
    /// @param licensee The licensee.
    error AlreadyLicensed(uint256 modelId, address licensee);
    /// @notice The new owner is the zero address.
    error ZeroOwner();
    /// @notice The license fee is above the most the caller agreed to pay (the owner raised it with `setTerms`).
    /// @param fee The current fee.
    /// @param maxFee The caller's maximum.
    error LicenseFeeTooHigh(uint256 fee, uint256 maxFee);

    /// @notice The tolerance is inconsistent: Exact with a bound, or Absolute/Relative without one.
    /// @param kind The requested kind.
    /// @param bound The requested bound.
    error InvalidTolerance(ToleranceKind kind, uint64 bound);

    /// @notice A model or a new version was published.
    /// @param modelId The new id.
    /// @param owner Its owner.
    /// @param predecessor The version it replaces, 0 for none.
    /// @param version Its version number.
    /// @param contentHash sha256 of the .onnx file.
    /// @param royaltyBps Royalty in basis points.
    /// @param licenseToken Token of the license fee.
    /// @param licenseFee One-time license fee.
    /// @param name Model name.
    /// @param uri Model URI.
    event ModelPublished(
        uint256 indexed modelId,
        address indexed owner,
        uint256 indexed predecessor,
        uint32 version,
        bytes32 contentHash,
        uint16 royaltyBps,
        address licenseToken,
        uint96 licenseFee,
        string name,
        string uri
    );
    /// @notice The owner changed the royalty or license fee; running channels keep their snapshot.
    /// @param modelId The model.
    /// @param royaltyBps The new royalty.
    /// @param licenseFee The new license fee.
    event ModelTermsUpdated(uint256 indexed modelId, uint16 royaltyBps, uint96 licenseFee);
    /// @notice The model changed owner.
    /// @param modelId The model.
    /// @param previousOwner The old owner.
    /// @param newOwner The new owner.
    event ModelOwnershipTransferred(uint256 indexed modelId, address indexed previousOwner, address indexed newOwner);
    /// @notice The model version was deprecated.
    /// @param modelId The model.
    event ModelDeprecated(uint256 indexed modelId);
    /// @notice A provider took a license.
    /// @param modelId The model.
    /// @param licensee The licensed provider.
    /// @param payer Who paid the fee.
    /// @param token Fee token.
    /// @param fee Fee paid to the model owner.
    event LicenseTaken(uint256 indexed modelId, address indexed licensee, address indexed payer, address token, uint256 fee);

    /// @notice The model owner declared how outputs of the model may differ between correct runtimes.
    /// @param modelId The model.
    /// @param kind The comparison.
    /// @param bound The bound in units of 1e-9.
    event ToleranceSet(uint256 indexed modelId, ToleranceKind kind, uint64 bound);

    /// @notice Largest royalty a model may set, in basis points.
    function MAX_ROYALTY_BPS() external view returns (uint16);
    /// @notice Publishes a new model (version 1). Returns its id.
    function publish(ModelParams calldata params) external returns (uint256 modelId);
    /// @notice Publishes a new version of `predecessor` (caller must own it). Returns its id.
    function publishVersion(uint256 predecessor, ModelParams calldata params) external returns (uint256 modelId);
    /// @notice Changes royalty and license fee for new channels and new licenses.
    function setTerms(uint256 modelId, uint16 royaltyBps, uint96 licenseFee) external;
    /// @notice Transfers ownership of a model version.
    function transferModelOwnership(uint256 modelId, address newOwner) external;
    /// @notice Deprecates a model version.
    function deprecate(uint256 modelId) external;
    /// @notice Takes a license for `licensee`, paying the fee from the caller to the owner; reverts with
    /// `LicenseFeeTooHigh` if the fee is above `maxFee` (pass the fee you were shown).
    function takeLicense(uint256 modelId, address licensee, uint256 maxFee) external;
    /// @notice Whether `licensee` holds a license for `modelId`.
    function hasLicense(uint256 modelId, address licensee) external view returns (bool);
    /// @notice The full model record.
    function getModel(uint256 modelId) external view returns (Model memory);
    /// @notice Owner and royalty, as the payment channels need them at open; reverts for unknown or deprecated models.
    function channelTerms(uint256 modelId) external view returns (address owner, uint16 royaltyBps);
    /// @notice Declares the model's output tolerance (caller must own it). Each version declares its own: a new
    /// version starts as Exact. Allowed on a deprecated version, whose past receipts may still be checked.
    function setTolerance(uint256 modelId, Tolerance calldata tolerance) external;
    /// @notice The model's output tolerance; Exact with bound 0 when none was declared. Reverts for an unknown model.
    function toleranceOf(uint256 modelId) external view returns (Tolerance memory);
    /// @notice Units of a tolerance bound: 1e9 (a bound of 1 is 1e-9).
    function TOLERANCE_SCALE() external view returns (uint64);
    /// @notice Id of the version that replaced `modelId`, 0 for none.
    function successorOf(uint256 modelId) external view returns (uint256);
    /// @notice Number of model versions published; ids run from 1 to this.
    function modelCount() external view returns (uint256);
}
