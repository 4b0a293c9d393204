// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IStakeGuard
/// @notice What DeviceRegistry asks the dispute contract (FlightRecorder) before it releases a device's stake.
interface IStakeGuard {
    /// @notice Disputes against `device` still open, and when it last anchored receipts (0 if never).
    /// @dev The registry refuses `withdrawStake` while `openDisputes > 0`, and before `lastAnchorAt + unbondingDelay`:
    /// every anchored receipt can be challenged, with the stake still there, for at least the unbonding delay.
    function stakeLock(address device) external view returns (uint256 openDisputes, uint256 lastAnchorAt);
}
