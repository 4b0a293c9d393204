// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/// @title TensorTolerance
/// @notice Reads the canonical tensor encoding that protocol/tensors.ts hashes ("edgepay.tensors.v1", then per tensor
/// sorted by name: u32 nameLen, name, u8 typeCode, u32 rank, u64 dims..., u64 byteLen, little-endian element bytes;
/// integers big-endian) and compares two encodings under a model's tolerance the way protocol/tolerance.ts does.
/// @dev float32 tensors are compared per element (absolute / relative with the M/1024 floor, NaN == NaN, infinities
/// equal only to themselves, -0 == +0). Values are decoded exactly into fixed point with 2^-90 resolution: a float32
/// below 2^-90 (~8e-28) reads as 0, which can move the verdict only for differences within ~1e-27 of the bound.
/// Every other element type is compared byte for byte (stricter than the off-chain rule for int64 with a bound >= 1
/// or float64 with a bound: such a pair is "not within tolerance" here and left to the committee).
library TensorTolerance {
    /// @notice The bytes are not a canonical tensor encoding.
    /// @param offset Byte offset where reading failed.
    error MalformedTensors(uint256 offset);

    /// @dev "edgepay.tensors.v1", 18 bytes.
    bytes18 private constant MAGIC = "edgepay.tensors.v1";
    uint256 private constant FLOAT32 = 1;
    uint256 private constant SHIFT = 90;
    uint256 private constant SCALE = 1e9;

    /// @dev One tensor's position in calldata.
    struct View {
        uint256 headerStart;
        uint256 headerLen;
        uint256 dataStart;
        uint256 dataLen;
        uint256 typeCode;
        uint256 next;
    }

    /// @notice Whether `b` equals `a` under `tol`: the same tensor names, types and dims in the same order, and every
    /// element within tolerance. Reverts with MalformedTensors when either encoding is malformed.
    function withinTolerance(bytes calldata a, bytes calldata b, IModelRegistry.Tolerance memory tol)
        internal
        pure
        returns (bool)
    {
        uint256 pa = _start(a);
        uint256 pb = _start(b);
        uint256 endA = _end(a);
        uint256 endB = _end(b);
        bool same = true;
        while (pa < endA || pb < endB) {
            if (pa >= endA || pb >= endB) {
                // Different tensor counts: validate the rest of the longer one, then report a difference.
                while (pa < endA) pa = _read(a, pa).next;
                while (pb < endB) pb = _read(b, pb).next;
                return false;
            }
            View memory ta = _read(a, pa);
            View memory tb = _read(b, pb);
            pa = ta.next;
            pb = tb.next;
            if (!same) continue;
            // Name, type code, rank, dims and byte length are one contiguous header: equal headers, equal shapes.
            if (ta.headerLen != tb.headerLen || _hash(ta.headerStart, ta.headerLen) != _hash(tb.headerStart, tb.headerLen)) {
                same = false;
            } else if (ta.typeCode == FLOAT32) {
                same = _float32Within(ta.dataStart, tb.dataStart, ta.dataLen / 4, tol);
            } else {
                same = _hash(ta.dataStart, ta.dataLen) == _hash(tb.dataStart, tb.dataLen);
            }
        }
        return same;
    }

    function _start(bytes calldata x) private pure returns (uint256 p) {
        assembly ("memory-safe") {
            p := x.offset
        }
        if (x.length < 18 || bytes18(x[:18]) != MAGIC) revert MalformedTensors(0);
        p += 18;
    }

    function _end(bytes calldata x) private pure returns (uint256 e) {
        assembly ("memory-safe") {
            e := add(x.offset, x.length)
        }
    }

    /// @dev Reads big-endian `n` bytes at calldata position `p` (n <= 32).
    function _uint(uint256 p, uint256 n) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(sub(256, mul(n, 8)), calldataload(p))
        }
    }

    function _read(bytes calldata x, uint256 p) private pure returns (View memory t) {
        uint256 base;
        assembly ("memory-safe") {
            base := x.offset
        }
        uint256 end = base + x.length;
        t.headerStart = p;
        if (p + 4 > end) revert MalformedTensors(p - base);
        uint256 nameLen = _uint(p, 4);
        if (nameLen == 0 || nameLen > 128) revert MalformedTensors(p - base);
        p += 4 + nameLen;
        if (p + 5 > end) revert MalformedTensors(p - base);
        t.typeCode = _uint(p, 1);
        uint256 size = _elementSize(t.typeCode);
        if (size == 0) revert MalformedTensors(p - base);
        uint256 rank = _uint(p + 1, 4);
        if (rank > 8) revert MalformedTensors(p + 1 - base);
        p += 5;
        if (p + 8 * rank + 8 > end) revert MalformedTensors(p - base);
        uint256 count = 1;
        for (uint256 i; i < rank; ++i) {
            uint256 dim = _uint(p, 8);
            if (dim > 1 << 24) revert MalformedTensors(p - base);
            count *= dim;
            p += 8;
        }
        uint256 byteLen = _uint(p, 8);
        p += 8;
        if (byteLen != count * size || p + byteLen > end) revert MalformedTensors(p - 8 - base);
        t.headerLen = p - t.headerStart;
        t.dataStart = p;
        t.dataLen = byteLen;
        t.next = p + byteLen;
    }

    function _elementSize(uint256 code) private pure returns (uint256) {
        if (code == 1 || code == 4) return 4;
        if (code == 2 || code == 3) return 8;
        if (code == 5) return 2;
        if (code >= 6 && code <= 8) return 1;
        return 0;
    }

    function _hash(uint256 p, uint256 n) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, p, n)
            h := keccak256(ptr, n)
        }
    }

    /// @dev The little-endian float32 at calldata position `p`, as its bit pattern.
    function _bits(uint256 p) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            let w := shr(224, calldataload(p))
            v := or(
                or(shl(24, and(w, 0xff)), shl(8, and(w, 0xff00))),
                or(shr(8, and(w, 0xff0000)), shr(24, w))
            )
        }
    }

    /// @dev |value| x 2^90 (exact above 2^-90), for a finite float32 bit pattern.
    function _magnitude(uint256 bits) private pure returns (uint256) {
        uint256 exp = (bits >> 23) & 0xff;
        uint256 frac = bits & 0x7fffff;
        uint256 m = exp == 0 ? frac : frac | 0x800000;
        // value = m x 2^(e - 150) for normals, m x 2^-149 for subnormals; shifted by 2^90.
        uint256 e = exp == 0 ? 1 : exp;
        return e + SHIFT >= 150 ? m << (e + SHIFT - 150) : m >> (150 - e - SHIFT);
    }

    function _float32Within(uint256 pa, uint256 pb, uint256 n, IModelRegistry.Tolerance memory tol)
        private
        pure
        returns (bool)
    {
        IModelRegistry.ToleranceKind kind = tol.kind;
        uint256 bound = tol.bound;
        uint256 floor;
        if (kind == IModelRegistry.ToleranceKind.Relative) {
            // |a - b| <= 2 max(|a|, |b|) always: a larger bound changes nothing and could overflow.
            if (bound > 2 * SCALE) bound = 2 * SCALE;
            uint256 largest;
            for (uint256 i; i < n; ++i) {
                uint256 x = _bits(pa + 4 * i) & 0x7fffffff;
                uint256 y = _bits(pb + 4 * i) & 0x7fffffff;
                if (x < 0x7f800000 && x > largest) largest = x;
                if (y < 0x7f800000 && y > largest) largest = y;
            }
            // Bit patterns of non-negative floats order as their values.
            floor = _magnitude(largest) >> 10;
        }
        uint256 absoluteLimit = bound << SHIFT;
        for (uint256 i; i < n; ++i) {
            uint256 a = _bits(pa + 4 * i);
            uint256 b = _bits(pb + 4 * i);
            if (a == b) continue;
            uint256 absA = a & 0x7fffffff;
            uint256 absB = b & 0x7fffffff;
            if (absA == 0 && absB == 0) continue;
            bool nanA = absA > 0x7f800000;
            bool nanB = absB > 0x7f800000;
            if (nanA && nanB) continue;
            // One NaN, or an infinity against anything else, or different values under Exact.
            if (nanA || nanB || absA == 0x7f800000 || absB == 0x7f800000 || kind == IModelRegistry.ToleranceKind.Exact) {
                return false;
            }
            uint256 ma = _magnitude(absA);
            uint256 mb = _magnitude(absB);
            uint256 diff = (a >> 31) == (b >> 31) ? (ma > mb ? ma - mb : mb - ma) : ma + mb;
            if (kind == IModelRegistry.ToleranceKind.Absolute) {
                if (diff * SCALE > absoluteLimit) return false;
            } else {
                uint256 mag = ma > mb ? ma : mb;
                if (floor > mag) mag = floor;
                if (diff * SCALE > bound * mag) return false;
            }
        }
        return true;
    }
}
