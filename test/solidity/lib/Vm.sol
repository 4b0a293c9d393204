// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The cheatcodes these tests use, at the standard cheatcode address (Hardhat 3's EDR runner implements them).
interface Vm {
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function warp(uint256 timestamp) external;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 selector) external;
    function assume(bool condition) external pure;
    function label(address account, string calldata name) external;
    function toString(uint256 value) external pure returns (string memory);
}

/// @dev keccak256("hevm cheat code") truncated to an address.
Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
