// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title TestToken
 * @notice Plain ERC-20 for tests and the devnet. ANYONE CAN MINT: never deploy it where it could be mistaken for a
 * real token.
 */
contract TestToken is ERC20 {
    uint8 private immutable _tokenDecimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _tokenDecimals = decimals_;
    }

    /// @notice Token decimals given at deployment.
    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }

    /// @notice Mints `amount` to `to`. Open to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
