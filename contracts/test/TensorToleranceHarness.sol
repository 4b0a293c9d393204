// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {TensorTolerance} from "../libraries/TensorTolerance.sol";

/// @dev Test-only: exposes TensorTolerance so its verdicts can be compared with protocol/tolerance.ts.
contract TensorToleranceHarness {
    function withinTolerance(bytes calldata a, bytes calldata b, IModelRegistry.Tolerance calldata tol)
        external
        pure
        returns (bool)
    {
        return TensorTolerance.withinTolerance(a, b, tol);
    }
}
