// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IFlightRecorder} from "../interfaces/IFlightRecorder.sol";

/// @title ReceiptHash
/// @notice EIP-712 hashing of device receipts and their Merkle leaves. Mirrored by protocol/receipt.ts and
/// protocol/merkle.ts; a change here is a change of the wire format.
library ReceiptHash {
    /// @notice EIP-712 type of a receipt.
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes32 channelId,uint256 cumulativeAmount,uint64 units,uint64 sequence,uint256 modelId,bytes32 modelHash,"
        "bytes32 inputHash,bytes32 outputHash,bytes32 previous,uint64 timestamp)"
    );

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("Edgepay PaymentChannels");
    bytes32 private constant VERSION_HASH = keccak256("1");

    /// @notice Separator of the PaymentChannels domain receipts are signed under, for `paymentChannels` on `chainId`.
    function domainSeparator(address paymentChannels, uint256 chainId) internal pure returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chainId, paymentChannels));
    }

    /// @notice EIP-712 digest of `receipt` under `separator`: what the device key signs.
    function digest(IFlightRecorder.Receipt calldata receipt, bytes32 separator) internal pure returns (bytes32 d) {
        bytes32 structHash = keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                receipt.channelId,
                receipt.cumulativeAmount,
                receipt.units,
                receipt.sequence,
                receipt.modelId,
                receipt.modelHash,
                receipt.inputHash,
                receipt.outputHash,
                receipt.previous,
                receipt.timestamp
            )
        );
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            d := keccak256(ptr, 0x42)
        }
    }

    /// @notice Merkle leaf of a receipt: keccak256 of its digest, so the typed data are hashed twice.
    /// @dev Why not the digest itself: a leaf is the hash of 32 bytes, an inner node the hash of 64 bytes, so no inner
    /// node can be passed off as a leaf (the second-preimage attack on Merkle trees), and no value a device signs
    /// is ever itself a node of its tree.
    function leaf(bytes32 receiptDigest) internal pure returns (bytes32 l) {
        assembly ("memory-safe") {
            mstore(0x00, receiptDigest)
            l := keccak256(0x00, 0x20)
        }
    }
}
