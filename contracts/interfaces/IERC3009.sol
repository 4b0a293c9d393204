// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IERC3009
/// @notice Transfer with authorization (EIP-3009), the subset x402's `exact` EVM scheme uses: a holder signs an
/// EIP-712 authorization off-chain and anyone submits it; a random 32-byte nonce per authorizer makes it single-use.
interface IERC3009 {
    /// @notice The authorization's window has not opened: it is valid only once `block.timestamp > validAfter`.
    /// @param validAfter The authorization's validAfter.
    /// @param timestamp The block timestamp.
    error AuthorizationNotYetValid(uint256 validAfter, uint256 timestamp);
    /// @notice The authorization's window has closed: it is valid only while `block.timestamp < validBefore`.
    /// @param validBefore The authorization's validBefore.
    /// @param timestamp The block timestamp.
    error AuthorizationExpired(uint256 validBefore, uint256 timestamp);
    /// @notice The nonce was used by an earlier transfer.
    /// @param authorizer The holder.
    /// @param nonce The nonce.
    error AuthorizationAlreadyUsed(address authorizer, bytes32 nonce);
    /// @notice The holder cancelled this nonce.
    /// @param authorizer The holder.
    /// @param nonce The nonce.
    error AuthorizationWasCanceled(address authorizer, bytes32 nonce);
    /// @notice The signature is not the holder's over these fields.
    /// @param expected The holder.
    /// @param recovered The address the signature recovers to (zero when malformed).
    error InvalidAuthorizationSignature(address expected, address recovered);
    /// @notice `receiveWithAuthorization` was called by someone other than the payee.
    /// @param caller The caller.
    /// @param payee The authorization's `to`.
    error CallerNotPayee(address caller, address payee);

    /// @notice An authorization was used.
    /// @param authorizer The holder.
    /// @param nonce The nonce.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);
    /// @notice A holder cancelled an unused authorization.
    /// @param authorizer The holder.
    /// @param nonce The nonce.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice Moves `value` from `from` to `to` under `from`'s signature; anyone may submit it.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;
    /// @notice `transferWithAuthorization` that only the payee `to` may submit (no front-running of a deposit).
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;
    /// @notice Cancels an unused authorization of `authorizer` under its signature; anyone may submit it.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes calldata signature) external;
    /// @notice True once `nonce` of `authorizer` was used or cancelled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
}
