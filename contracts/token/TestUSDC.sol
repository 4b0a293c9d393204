// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC3009} from "../interfaces/IERC3009.sol";

/// @title TestUSDC
/// @notice A 6-decimal USDC stand-in with EIP-2612 permit, EIP-3009 transfer with authorization (what x402's
/// `exact` scheme signs) and an open faucet. Deployed on local chains only. Its EIP-712 domain is
/// ("Test USD Coin", "1", chainId, address), shared by permits and authorizations as in USDC.
contract TestUSDC is ERC20, ERC20Permit, IERC3009 {
    /// @notice Most the faucet hands out per call: 10,000 tokens.
    uint256 public constant FAUCET_LIMIT = 10_000e6;

    /// @notice EIP-712 type of a transfer any relayer may submit (EIP-3009; same string as USDC's).
    bytes32 private constant _TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    /// @notice EIP-712 type of a transfer only the payee may submit.
    bytes32 private constant _RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    /// @notice EIP-712 type of a cancellation.
    bytes32 private constant _CANCEL_AUTHORIZATION_TYPEHASH = keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");

    /// @notice The faucet was asked for more than FAUCET_LIMIT.
    /// @param amount Amount requested.
    /// @param limit The limit.
    error FaucetLimitExceeded(uint256 amount, uint256 limit);

    /// @dev 0 unused, 1 used, 2 cancelled: a cancelled nonce gets its own error so a payer sees why.
    mapping(address authorizer => mapping(bytes32 nonce => uint8)) private _authorizations;

    uint8 private constant _USED = 1;
    uint8 private constant _CANCELED = 2;

    constructor() ERC20("Test USD Coin", "tUSDC") ERC20Permit("Test USD Coin") {}

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints up to FAUCET_LIMIT to `to`.
    function faucet(address to, uint256 amount) external {
        if (amount > FAUCET_LIMIT) revert FaucetLimitExceeded(amount, FAUCET_LIMIT);
        _mint(to, amount);
    }

    /// @inheritdoc IERC3009
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        _useAuthorization(_TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, signature);
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        if (msg.sender != to) revert CallerNotPayee(msg.sender, to);
        _useAuthorization(_RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, signature);
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes calldata signature) external {
        _requireUnused(authorizer, nonce);
        _checkSigner(_hashTypedDataV4(keccak256(abi.encode(_CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce))), authorizer, signature);
        _authorizations[authorizer][nonce] = _CANCELED;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    /// @inheritdoc IERC3009
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizations[authorizer][nonce] != 0;
    }

    function _useAuthorization(
        bytes32 typeHash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) private {
        if (block.timestamp <= validAfter) revert AuthorizationNotYetValid(validAfter, block.timestamp);
        if (block.timestamp >= validBefore) revert AuthorizationExpired(validBefore, block.timestamp);
        _requireUnused(from, nonce);
        bytes32 structHash = keccak256(abi.encode(typeHash, from, to, value, validAfter, validBefore, nonce));
        _checkSigner(_hashTypedDataV4(structHash), from, signature);
        _authorizations[from][nonce] = _USED;
        emit AuthorizationUsed(from, nonce);
    }

    function _requireUnused(address authorizer, bytes32 nonce) private view {
        uint8 state = _authorizations[authorizer][nonce];
        if (state == _USED) revert AuthorizationAlreadyUsed(authorizer, nonce);
        if (state == _CANCELED) revert AuthorizationWasCanceled(authorizer, nonce);
    }

    function _checkSigner(bytes32 digest, address expected, bytes calldata signature) private pure {
        (address recovered,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (recovered != expected || recovered == address(0)) revert InvalidAuthorizationSignature(expected, recovered);
    }
}
