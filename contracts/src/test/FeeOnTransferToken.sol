// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title FeeOnTransferToken
 * @notice Test ERC-20 that burns `feeBps` basis points of every transfer (mints and burns are exempt), so the
 * recipient gets less than the amount sent. ANYONE CAN MINT.
 */
contract FeeOnTransferToken is ERC20 {
    /// @notice Fee in basis points taken from every transfer.
    uint256 public immutable feeBps;

    /// @dev The fee is above 100%.
    error FeeTooHigh(uint256 feeBps);

    constructor(string memory name_, string memory symbol_, uint256 feeBps_) ERC20(name_, symbol_) {
        if (feeBps_ > 10_000) revert FeeTooHigh(feeBps_);
        feeBps = feeBps_;
    }

    /// @notice Mints `amount` to `to`. Open to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = (value * feeBps) / 10_000;
        super._update(from, to, value - fee);
        if (fee > 0) super._update(from, address(0), fee);
    }
}
