// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title Create2Deployer
 * @notice Deterministic CREATE2 deployer: our own implementation of the interface of the well-known deployment
 * proxy that Foundry (`forge create --salt`, `new Contract{salt: s}()` in scripts), Hardhat and Safe tooling use,
 * predeployed in the sidechain genesis at its usual address (0x4e59b44847b379578588920cA78FbF26c0B4956C), so
 * contracts get the same address here as on every other chain that has it.
 *
 * Calldata is `salt (32 bytes) || init code`; the call's value is passed to the new contract. On success it
 * returns the new contract's 20-byte address as raw bytes (not ABI-encoded); if the creation fails (reverting
 * init code, address already taken, out of gas) or the calldata is shorter than a salt, it reverts with no data.
 * @dev Only a fallback: there are no selectors, every calldata is a deployment request.
 */
contract Create2Deployer {
    fallback(bytes calldata input) external payable returns (bytes memory) {
        if (input.length < 32) _fail();
        bytes32 salt = bytes32(input[:32]);
        bytes memory initCode = input[32:];
        address deployed;
        assembly ("memory-safe") {
            deployed := create2(callvalue(), add(initCode, 0x20), mload(initCode), salt)
        }
        if (deployed == address(0)) _fail();
        return abi.encodePacked(deployed);
    }

    function _fail() private pure {
        assembly ("memory-safe") {
            revert(0, 0)
        }
    }
}
