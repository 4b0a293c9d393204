// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {TestUSDC} from "../../contracts/token/TestUSDC.sol";
import {Marketplace} from "./lib/Marketplace.sol";
import {Assertions} from "./lib/Assertions.sol";
import {vm} from "./lib/Vm.sol";

/// @notice Fuzz tests of x402 `exact` settlement: for any royalty, amounts, and any subset of the authorizations
/// front-run straight to the token, settleExact moves exactly what the payers signed, splits it into royalty
/// (floor of amount x bps) and payout to the unit, leaves the receiver empty, and never pays twice.
contract ExactSettlementFuzzTest is Marketplace, Assertions {
    uint256 internal constant PAYER_PK = 0xA11CE;
    uint256 internal constant DEVICE_PK = 0xDE71CE;
    uint256 internal constant PROVIDER_PK = 0xB0B;
    uint256 internal constant OWNER_PK = 0x0DE1;
    bytes32 internal constant TRANSFER_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    TestUSDC internal usdc;
    address internal payer;
    address internal provider;
    address internal device;
    address internal modelOwner;

    function setUp() public {
        _deployMarketplace();
        usdc = new TestUSDC();
        payer = vm.addr(PAYER_PK);
        provider = vm.addr(PROVIDER_PK);
        modelOwner = vm.addr(OWNER_PK);
        device = _registerDevice(provider, DEVICE_PK);
    }

    function testFuzz_exactSplitsEverythingOnce(uint16 bpsSeed, uint256 aSeed, uint256 bSeed, uint8 frontRun) public {
        uint16 bps = uint16(bpsSeed % 5_001);
        uint256 modelId = _publish(modelOwner, bps);
        vm.prank(provider);
        models.takeLicense(modelId, provider, 0);
        vm.prank(provider);
        devices.setOffering(device, modelId, address(usdc), 1_000);
        uint256 a = _bound(aSeed, 1, usdc.FAUCET_LIMIT());
        uint256 b = _bound(bSeed, 1, usdc.FAUCET_LIMIT());
        usdc.faucet(payer, a);
        usdc.faucet(payer, b);
        address receiver = channels.exactReceiver(device, modelId, address(usdc));

        IPaymentChannels.ExactAuthorization[] memory auths = new IPaymentChannels.ExactAuthorization[](2);
        auths[0] = _authorize(receiver, a, keccak256(abi.encode("a", aSeed)));
        auths[1] = _authorize(receiver, b, keccak256(abi.encode("b", bSeed)));
        // A copier submits some of them to the token first: they can only pay the receiver.
        for (uint256 i; i < 2; i++) {
            if (frontRun & (1 << i) != 0) {
                IPaymentChannels.ExactAuthorization memory x = auths[i];
                usdc.transferWithAuthorization(x.from, receiver, x.value, x.validAfter, x.validBefore, x.nonce, x.signature);
            }
        }

        uint256 amount = channels.settleExact(device, modelId, address(usdc), auths);
        uint256 royalty = (a + b) * bps / 10_000;
        assertEq(amount, a + b, "settled what was signed");
        assertEq(usdc.balanceOf(payer), 0, "payer paid exactly a + b");
        assertEq(channels.royaltiesOf(modelId, address(usdc)), royalty, "royalty = floor(amount * bps / 10000)");
        assertEq(usdc.balanceOf(provider), a + b - royalty, "payout = amount - royalty");
        assertEq(usdc.balanceOf(receiver), 0, "receiver empty");
        assertEq(usdc.balanceOf(address(channels)), royalty, "PaymentChannels holds only the royalty");

        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NothingToSettle.selector, receiver, address(usdc)));
        channels.settleExact(device, modelId, address(usdc), auths);
    }

    function _authorize(address to, uint256 value, bytes32 nonce) internal view returns (IPaymentChannels.ExactAuthorization memory) {
        uint256 validBefore = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(abi.encode(TRANSFER_TYPEHASH, payer, to, value, 0, validBefore, nonce));
        bytes memory signature = _sign(PAYER_PK, _typedDigest(structHash, "Test USD Coin", address(usdc), block.chainid));
        return IPaymentChannels.ExactAuthorization({from: payer, value: value, validAfter: 0, validBefore: validBefore, nonce: nonce, signature: signature});
    }
}
