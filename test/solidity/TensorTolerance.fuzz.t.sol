// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {TensorToleranceHarness} from "../../contracts/test/TensorToleranceHarness.sol";
import {Assertions} from "./lib/Assertions.sol";

/// @notice Fuzz properties of the on-chain tolerance comparison (any float32 bit patterns, NaNs, infinities and
/// subnormals included): equal tensors are within any tolerance, the verdict is symmetric, a larger bound never turns
/// "within" into "not within", and Exact means equal values (-0 = +0, NaN = NaN).
contract TensorToleranceFuzzTest is Assertions {
    TensorToleranceHarness internal harness;

    function setUp() public {
        harness = new TensorToleranceHarness();
    }

    /// @dev Canonical encoding of one float32 tensor "y" of dims [4] with the given bit patterns.
    function _encode(uint32[4] memory bits) internal pure returns (bytes memory out) {
        out = abi.encodePacked("edgepay.tensors.v1", uint32(1), "y", uint8(1), uint32(1), uint64(4), uint64(16));
        for (uint256 i; i < 4; ++i) {
            uint32 b = bits[i];
            out = abi.encodePacked(out, uint8(b), uint8(b >> 8), uint8(b >> 16), uint8(b >> 24));
        }
    }

    function _tol(uint8 kind, uint64 bound) internal pure returns (IModelRegistry.Tolerance memory t) {
        t.kind = IModelRegistry.ToleranceKind(kind % 3);
        t.bound = t.kind == IModelRegistry.ToleranceKind.Exact ? 0 : (bound == 0 ? 1 : bound);
    }

    function testFuzz_equalTensorsAreWithin(uint32[4] memory a, uint8 kind, uint64 bound) public view {
        bytes memory x = _encode(a);
        assertTrue(harness.withinTolerance(x, x, _tol(kind, bound)), "a tensor is within tolerance of itself");
    }

    function testFuzz_symmetric(uint32[4] memory a, uint32[4] memory b, uint8 kind, uint64 bound) public view {
        IModelRegistry.Tolerance memory t = _tol(kind, bound);
        bool ab = harness.withinTolerance(_encode(a), _encode(b), t);
        bool ba = harness.withinTolerance(_encode(b), _encode(a), t);
        assertTrue(ab == ba, "verdict is symmetric");
    }

    function testFuzz_monotonicInBound(uint32[4] memory a, uint32[4] memory b, bool relative, uint64 bound, uint64 more)
        public
        view
    {
        IModelRegistry.Tolerance memory small = _tol(relative ? 2 : 1, bound);
        IModelRegistry.Tolerance memory large = _tol(relative ? 2 : 1, bound);
        unchecked {
            large.bound = small.bound + more < small.bound ? type(uint64).max : small.bound + more;
        }
        if (harness.withinTolerance(_encode(a), _encode(b), small)) {
            assertTrue(harness.withinTolerance(_encode(a), _encode(b), large), "a larger bound keeps a pair within");
        }
    }

    function testFuzz_exactMeansEqualValues(uint32[4] memory a, uint32[4] memory b, uint8 copyMask) public view {
        // Make some elements equal so both verdicts occur.
        for (uint256 i; i < 4; ++i) {
            if (copyMask & (1 << i) != 0) b[i] = a[i];
        }
        bool expected = true;
        for (uint256 i; i < 4; ++i) {
            uint32 x = a[i] & 0x7fffffff;
            uint32 y = b[i] & 0x7fffffff;
            bool same = a[i] == b[i] || (x == 0 && y == 0) || (x > 0x7f800000 && y > 0x7f800000);
            if (!same) expected = false;
        }
        assertTrue(harness.withinTolerance(_encode(a), _encode(b), _tol(0, 0)) == expected, "exact verdict");
    }
}
