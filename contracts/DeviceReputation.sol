// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IDeviceReputation} from "./interfaces/IDeviceReputation.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";

/// @title DeviceReputation
/// @notice ERC-8004-shaped reputation registry for devices, written to only by buyers with a channel to the device
/// (see IDeviceReputation). No owner, no upgrade, no roles.
/// @dev A buyer can still open channels from many addresses (a Sybil pays a deposit and gas per address): consumers
/// weigh feedback per distinct client (protocol/reputation.ts), as ERC-8004 expects aggregation to filter reviewers.
contract DeviceReputation is IDeviceReputation {
    /// @notice Longest tag, in bytes.
    uint256 public constant MAX_TAG_BYTES = 64;
    /// @notice Longest endpoint or feedback URI, in bytes.
    uint256 public constant MAX_URI_BYTES = 256;
    /// @notice ERC-8004's largest valueDecimals.
    uint8 public constant MAX_DECIMALS = 18;

    /// @notice The channels whose payers may give feedback.
    IPaymentChannels public immutable paymentChannels;
    /// @notice The identity registry: devices and their owners.
    IDeviceRegistry public immutable deviceRegistry;

    mapping(uint256 agentId => mapping(address client => Feedback[])) private _feedback;
    mapping(uint256 agentId => address[]) private _clients;

    constructor(IPaymentChannels paymentChannels_, IDeviceRegistry deviceRegistry_) {
        if (address(paymentChannels_) == address(0) || address(deviceRegistry_) == address(0)) revert ZeroAddress();
        paymentChannels = paymentChannels_;
        deviceRegistry = deviceRegistry_;
    }

    /// @inheritdoc IDeviceReputation
    function giveFeedback(
        IPaymentChannels.ChannelTerms calldata terms,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external returns (uint64 feedbackIndex) {
        feedbackIndex = _record(terms, value, valueDecimals, tag1, tag2);
        _checkLength(bytes(endpoint).length, MAX_URI_BYTES);
        _checkLength(bytes(feedbackURI).length, MAX_URI_BYTES);
        _emitFeedback(uint256(uint160(terms.device)), feedbackIndex, value, valueDecimals, tag1, tag2, endpoint, feedbackURI, feedbackHash);
    }

    /// @inheritdoc IDeviceReputation
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        Feedback storage entry = _entry(agentId, msg.sender, feedbackIndex);
        if (entry.isRevoked) revert AlreadyRevoked(agentId, msg.sender, feedbackIndex);
        entry.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    /// @inheritdoc IDeviceReputation
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        Feedback storage entry = _entry(agentId, clientAddress, feedbackIndex);
        return (entry.value, entry.valueDecimals, entry.tag1, entry.tag2, entry.isRevoked);
    }

    /// @inheritdoc IDeviceReputation
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        if (clientAddresses.length == 0) revert ClientsRequired();
        return _summary(_feedback[agentId], clientAddresses, _filter(tag1), _filter(tag2));
    }

    /// @dev An empty tag matches any: its filter is the zero hash.
    function _filter(string calldata tag) private pure returns (bytes32) {
        return bytes(tag).length == 0 ? bytes32(0) : keccak256(bytes(tag));
    }

    /// @dev Sums at 18 decimals (the largest decimals are only known at the end), then scales down once.
    function _summary(mapping(address => Feedback[]) storage byClient, address[] calldata clients, bytes32 hash1, bytes32 hash2)
        private
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        int256 sum;
        for (uint256 c = 0; c < clients.length; ++c) {
            (uint64 n, int256 s, uint8 d) = _sumOf(byClient[clients[c]], hash1, hash2);
            count += n;
            sum += s;
            if (d > summaryValueDecimals) summaryValueDecimals = d;
        }
        if (count > 0) {
            summaryValue = int128(sum / int256(uint256(count)) / int256(uint256(10) ** (MAX_DECIMALS - summaryValueDecimals)));
        }
    }

    /// @dev Count, sum scaled to 18 decimals, and largest decimals of the non-revoked matching entries.
    function _sumOf(Feedback[] storage entries, bytes32 hash1, bytes32 hash2) private view returns (uint64 n, int256 sum, uint8 decimals) {
        for (uint256 i = 0; i < entries.length; ++i) {
            Feedback storage e = entries[i];
            if (e.isRevoked) continue;
            if (hash1 != bytes32(0) && keccak256(bytes(e.tag1)) != hash1) continue;
            if (hash2 != bytes32(0) && keccak256(bytes(e.tag2)) != hash2) continue;
            ++n;
            sum += int256(e.value) * int256(uint256(10) ** (MAX_DECIMALS - e.valueDecimals));
            if (e.valueDecimals > decimals) decimals = e.valueDecimals;
        }
    }

    /// @inheritdoc IDeviceReputation
    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clients[agentId];
    }

    /// @inheritdoc IDeviceReputation
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return uint64(_feedback[agentId][clientAddress].length);
    }

    /// @inheritdoc IDeviceReputation
    function getIdentityRegistry() external view returns (address) {
        return address(deviceRegistry);
    }

    /// @inheritdoc IDeviceReputation
    function agentIdOf(address device) external pure returns (uint256) {
        return uint256(uint160(device));
    }

    /// @dev Checks the caller may rate `terms.device` and stores the entry; split from giveFeedback for the stack.
    function _record(
        IPaymentChannels.ChannelTerms calldata terms,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2
    ) private returns (uint64 feedbackIndex) {
        bytes32 channelId = keccak256(abi.encode(terms));
        if (paymentChannels.getChannel(channelId).deposit == 0) revert ChannelNotFound(channelId);
        if (msg.sender != terms.payer && msg.sender != terms.signer) revert NotChannelPayer(channelId, msg.sender);
        // The channel opened only if the payee was the device's owner, and a device never changes owner (DeviceRegistry
        // has no transfer), so the payee is the owner: no registry call needed.
        if (msg.sender == terms.device || msg.sender == terms.payee) revert SelfFeedback(terms.device, msg.sender);
        if (valueDecimals > MAX_DECIMALS) revert InvalidValueDecimals(valueDecimals);
        _checkLength(bytes(tag1).length, MAX_TAG_BYTES);
        _checkLength(bytes(tag2).length, MAX_TAG_BYTES);

        uint256 agentId = uint256(uint160(terms.device));
        Feedback[] storage entries = _feedback[agentId][msg.sender];
        if (entries.length == 0) _clients[agentId].push(msg.sender);
        entries.push(Feedback(value, valueDecimals, false, tag1, tag2));
        feedbackIndex = uint64(entries.length);
        emit FeedbackChannel(terms.device, msg.sender, feedbackIndex, channelId);
    }

    /// @dev Strings in memory take one stack slot each (calldata ones two), which the 11-field event needs.
    function _emitFeedback(
        uint256 agentId,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        string memory endpoint,
        string memory feedbackURI,
        bytes32 feedbackHash
    ) private {
        emit NewFeedback(agentId, msg.sender, feedbackIndex, value, valueDecimals, tag1, tag1, tag2, endpoint, feedbackURI, feedbackHash);
    }

    function _entry(uint256 agentId, address client, uint64 feedbackIndex) private view returns (Feedback storage) {
        Feedback[] storage entries = _feedback[agentId][client];
        if (feedbackIndex == 0 || feedbackIndex > entries.length) revert FeedbackNotFound(agentId, client, feedbackIndex);
        return entries[feedbackIndex - 1];
    }

    function _checkLength(uint256 length, uint256 max) private pure {
        if (length > max) revert StringTooLong(length, max);
    }
}
