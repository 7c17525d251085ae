// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title GasBurner
 * @notice A hostile withdrawal recipient for tests: while `burning`, receiving ETH burns every unit of gas it is
 * given and then reverts (the griefing recipient of the bridge security review). It can pull what the vault
 * credited to it once it stops burning.
 */
contract GasBurner {
    /// @notice Whether receiving ETH burns all gas and reverts.
    bool public burning = true;

    /// @dev Reverted after burning the gas.
    error Burned();

    receive() external payable {
        if (burning) {
            while (gasleft() > 500) {}
            revert Burned();
        }
    }

    /// @notice Switches the burning on or off.
    function setBurning(bool on) external {
        burning = on;
    }

    /// @notice Calls `target` with `data` (e.g. the vault's `claim`), forwarding `msg.value`.
    function execute(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory result) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }
}
