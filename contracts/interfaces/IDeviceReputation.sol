// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPaymentChannels} from "./IPaymentChannels.sol";

/// @title IDeviceReputation
/// @notice Feedback about devices from buyers that paid them, in the shape of ERC-8004's Reputation Registry: the
/// same `NewFeedback`/`FeedbackRevoked` events and the same read functions, so ERC-8004 indexers and SDKs read it.
/// An ERC-8004 agent is an ERC-721 token of an identity registry; here the identity registry is the DeviceRegistry
/// and a device's agentId is its device key as a number (`agentIdOf`). What differs from ERC-8004: feedback is given
/// against a payment channel with the device (`giveFeedback` takes the channel's terms) by its payer or voucher
/// signer, so only buyers who put money in a channel can rate a device, never its own key or owner.
/// Tags used by Edgepay buyers: tag1 "spotCheck" (value 1 passed / 0 failed, tag2 the model id), tag1 "uptime"
/// (value the percentage of the buyer's requests the device answered, 2 decimals, tag2 the model id).
interface IDeviceReputation {
    /// @notice One feedback entry (ERC-8004 fields; the endpoint, URI and hash live only in the event).
    struct Feedback {
        /// @notice Signed fixed-point value.
        int128 value;
        /// @notice Decimals of `value`, 0..18.
        uint8 valueDecimals;
        /// @notice Revoked by its giver.
        bool isRevoked;
        /// @notice First tag (what was measured).
        string tag1;
        /// @notice Second tag (a sub-dimension).
        string tag2;
    }

    /// @notice No channel has these terms.
    /// @param channelId The id computed from the terms.
    error ChannelNotFound(bytes32 channelId);
    /// @notice The caller is neither the payer nor the voucher signer of the channel.
    /// @param channelId The channel.
    /// @param caller The caller.
    error NotChannelPayer(bytes32 channelId, address caller);
    /// @notice The caller is the device key or the channel's payee (the device's owner): no self-rating.
    /// @param device The device.
    /// @param caller The caller.
    error SelfFeedback(address device, address caller);
    /// @notice `valueDecimals` above 18 (ERC-8004's bound).
    /// @param valueDecimals The decimals given.
    error InvalidValueDecimals(uint8 valueDecimals);
    /// @notice A tag, endpoint or URI longer than allowed (bounds the gas of reads and storage).
    /// @param length Its length in bytes.
    /// @param max The largest length allowed.
    error StringTooLong(uint256 length, uint256 max);
    /// @notice The client gave no feedback with this index to this agent.
    /// @param agentId The agent.
    /// @param client The client.
    /// @param feedbackIndex The index (1-based).
    error FeedbackNotFound(uint256 agentId, address client, uint64 feedbackIndex);
    /// @notice The feedback is already revoked.
    /// @param agentId The agent.
    /// @param client The client.
    /// @param feedbackIndex The index.
    error AlreadyRevoked(uint256 agentId, address client, uint64 feedbackIndex);
    /// @notice `getSummary` without client addresses (ERC-8004: unfiltered summaries are open to Sybil feedback).
    error ClientsRequired();
    /// @notice A constructor address is zero.
    error ZeroAddress();

    /// @notice ERC-8004 feedback event.
    /// @param agentId The device's agentId (`agentIdOf(device)`).
    /// @param clientAddress The buyer that gave it.
    /// @param feedbackIndex Its index among this client's feedback to this agent, from 1.
    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );
    /// @notice ERC-8004 revocation event.
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);
    /// @notice The payment channel a feedback was given against (Edgepay addition: proof of payment, kept in the log
    /// only).
    /// @param device The device key.
    /// @param clientAddress The buyer.
    /// @param feedbackIndex The feedback's index.
    /// @param channelId The channel.
    event FeedbackChannel(address indexed device, address indexed clientAddress, uint64 feedbackIndex, bytes32 indexed channelId);

    /// @notice Gives feedback about `terms.device` as the payer or signer of the channel `terms` describes.
    /// @return feedbackIndex The new entry's index for (agent, caller), from 1.
    function giveFeedback(
        IPaymentChannels.ChannelTerms calldata terms,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external returns (uint64 feedbackIndex);
    /// @notice Revokes the caller's feedback `feedbackIndex` to `agentId` (ERC-8004).
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external;

    /// @notice ERC-8004 read of one entry.
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked);
    /// @notice ERC-8004 summary: count and average of the non-revoked feedback of `clientAddresses` matching the tags
    /// (an empty tag matches any), the average expressed with the largest `valueDecimals` among them.
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals);
    /// @notice ERC-8004: every client that gave feedback to `agentId`.
    function getClients(uint256 agentId) external view returns (address[] memory);
    /// @notice ERC-8004: the index of the client's last feedback to `agentId` (0 when none).
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64);
    /// @notice ERC-8004: the identity registry (here the DeviceRegistry).
    function getIdentityRegistry() external view returns (address);
    /// @notice The agentId of a device: its key as a number.
    function agentIdOf(address device) external pure returns (uint256);
}
