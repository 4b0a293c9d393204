// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PlainERC20} from "./PlainERC20.sol";

/// @title MisbehavingERC20
/// @notice TEST ONLY, never deployed by the project: a token that either calls back into a target after a
/// transfer (a one-shot hook, for reentrancy tests) or reports failure by returning false (for SafeERC20 tests).
contract MisbehavingERC20 is PlainERC20 {
    address private _hookTarget;
    bytes private _hookData;
    bool private _returnFalse;

    constructor() PlainERC20("Misbehaving Token", "BAD") {}

    /// @notice After the next transfer, call `target` with `data` once; a revert of that call is bubbled up.
    function setHook(address target, bytes calldata data) external {
        _hookTarget = target;
        _hookData = data;
    }

    /// @notice While on, transfer and transferFrom move nothing and return false.
    function setReturnFalse(bool on) external {
        _returnFalse = on;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (_returnFalse) return false;
        super.transfer(to, value);
        _callHook();
        return true;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (_returnFalse) return false;
        super.transferFrom(from, to, value);
        _callHook();
        return true;
    }

    function _callHook() private {
        address target = _hookTarget;
        if (target == address(0)) return;
        _hookTarget = address(0);
        (bool ok, bytes memory ret) = target.call(_hookData);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
