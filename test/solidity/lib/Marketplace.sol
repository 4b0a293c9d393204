// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ModelRegistry} from "../../../contracts/ModelRegistry.sol";
import {DeviceRegistry} from "../../../contracts/DeviceRegistry.sol";
import {PaymentChannels} from "../../../contracts/PaymentChannels.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {IPaymentChannels} from "../../../contracts/interfaces/IPaymentChannels.sol";
import {MintableToken} from "./MintableToken.sol";
import {vm} from "./Vm.sol";

/// @notice Deploys the registries and PaymentChannels and offers the helpers every suite needs: actors from
/// private keys, models, devices, offerings, channels, and vouchers signed over an EIP-712 digest computed
/// here independently of the contract (so a wrong on-chain digest cannot sign its own tests green).
abstract contract Marketplace {
    uint40 internal constant CHALLENGE_PERIOD = 1 hours;
    uint96 internal constant MIN_STAKE = 10e6;

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");
    bytes32 internal constant CLOSE_TYPEHASH = keccak256("CloseChannel(bytes32 channelId,uint256 cumulativeAmount)");
    bytes32 internal constant BINDING_TYPEHASH = keccak256("DeviceBinding(address device,address owner,uint256 deadline)");

    MintableToken internal token;
    ModelRegistry internal models;
    DeviceRegistry internal devices;
    PaymentChannels internal channels;

    function _deployMarketplace() internal {
        token = new MintableToken();
        models = new ModelRegistry();
        devices = new DeviceRegistry(address(token), MIN_STAKE, 7 days, models, address(this));
        channels = new PaymentChannels(devices, models, CHALLENGE_PERIOD);
    }

    function _publish(address owner, uint16 royaltyBps) internal returns (uint256 modelId) {
        IModelRegistry.ModelParams memory params = IModelRegistry.ModelParams({
            name: "model",
            contentHash: keccak256(abi.encode(owner, royaltyBps, models.modelCount())),
            uri: "ipfs://model.onnx",
            royaltyBps: royaltyBps,
            licenseToken: address(0),
            licenseFee: 0
        });
        vm.prank(owner);
        modelId = models.publish(params);
    }

    /// @dev Registers the device key `devicePk` to `owner` with the minimum stake.
    function _registerDevice(address owner, uint256 devicePk) internal returns (address device) {
        device = vm.addr(devicePk);
        uint256 deadline = block.timestamp + 1 days;
        bytes32 digest = _typedDigest(
            keccak256(abi.encode(BINDING_TYPEHASH, device, owner, deadline)), "Edgepay DeviceRegistry", address(devices), block.chainid
        );
        bytes memory binding = _sign(devicePk, digest);
        token.mint(owner, MIN_STAKE);
        vm.prank(owner);
        token.approve(address(devices), MIN_STAKE);
        vm.prank(owner);
        devices.register(device, "https://device.test", "{}", MIN_STAKE, deadline, binding);
    }

    /// @dev `owner` takes the (free) license of `modelId` and offers it on `device` at `price`.
    function _offer(address owner, address device, uint256 modelId, uint96 price) internal {
        if (!models.hasLicense(modelId, owner)) {
            vm.prank(owner);
            models.takeLicense(modelId, owner, 0);
        }
        vm.prank(owner);
        devices.setOffering(device, modelId, address(token), price);
    }

    function _terms(address payer, address signer, address device, address payee, uint256 modelId, uint96 price, uint16 royaltyBps, uint256 salt)
        internal
        view
        returns (IPaymentChannels.ChannelTerms memory)
    {
        return IPaymentChannels.ChannelTerms({
            payer: payer,
            signer: signer,
            device: device,
            payee: payee,
            token: address(token),
            modelId: modelId,
            price: price,
            royaltyBps: royaltyBps,
            salt: salt
        });
    }

    /// @dev Mints `deposit` to the payer, approves exactly it and opens.
    function _open(IPaymentChannels.ChannelTerms memory terms, uint96 deposit) internal returns (bytes32 id) {
        token.mint(terms.payer, deposit);
        vm.prank(terms.payer);
        token.approve(address(channels), deposit);
        vm.prank(terms.payer);
        id = channels.open(terms, deposit);
    }

    function _idOf(IPaymentChannels.ChannelTerms memory terms) internal pure returns (bytes32) {
        return keccak256(abi.encode(terms));
    }

    function _typedDigest(bytes32 structHash, string memory name, address verifyingContract, uint256 chainId)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), chainId, verifyingContract));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _voucherDigest(bytes32 id, uint256 amount) internal view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(VOUCHER_TYPEHASH, id, amount)), "Edgepay PaymentChannels", address(channels), block.chainid);
    }

    function _closeDigest(bytes32 id, uint256 amount) internal view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(CLOSE_TYPEHASH, id, amount)), "Edgepay PaymentChannels", address(channels), block.chainid);
    }

    function _voucher(uint256 signerPk, bytes32 id, uint256 amount) internal view returns (bytes memory) {
        return _sign(signerPk, _voucherDigest(id, amount));
    }

    function _closeSig(uint256 devicePk, bytes32 id, uint256 amount) internal view returns (bytes memory) {
        return _sign(devicePk, _closeDigest(id, amount));
    }

    function _sign(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Maps `x` uniformly enough into [lo, hi].
    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        if (hi <= lo) return lo;
        uint256 span = hi - lo;
        if (span == type(uint256).max) return x;
        return lo + x % (span + 1);
    }

    /// @dev An amount in [1, 2**bits - 1] whose magnitude is itself random, so small and huge values both occur.
    function _amount(uint256 x, uint256 maxBits) internal pure returns (uint256) {
        uint256 bits = 1 + uint256(keccak256(abi.encode(x))) % maxBits;
        return _bound(x, 1, (uint256(1) << bits) - 1);
    }
}
