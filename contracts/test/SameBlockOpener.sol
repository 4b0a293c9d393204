// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAnswerDisputes} from "../interfaces/IAnswerDisputes.sol";

/// @dev Test-only: commits and opens in one transaction, so the open lands in the commitment's block.
contract SameBlockOpener {
    function commitAndOpen(
        IAnswerDisputes disputes,
        bytes32 commitment,
        address device,
        IAnswerDisputes.Evidence calldata evidence,
        bytes32 salt
    ) external {
        disputes.commitEvidence(commitment);
        disputes.openDispute(device, evidence, salt);
    }
}
