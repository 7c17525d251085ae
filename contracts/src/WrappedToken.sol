// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/**
 * @title IWrappedTokenDeployer
 * @dev Implemented by the contract that creates {WrappedToken}s. The token reads its parameters back from its
 * creator during construction, so its creation code has no arguments and its CREATE2 address depends only on the
 * creator and the salt (Uniswap v3 pool pattern).
 */
interface IWrappedTokenDeployer {
    /// @notice Parameters of the wrapped token being created; only meaningful during its creation.
    function wrappedTokenParameters()
        external
        view
        returns (address l1Token, string memory name, string memory symbol, uint8 decimals);
}

/**
 * @title WrappedToken
 * @notice Sidechain representation of one L1 token (or of ETH when `l1Token` is `address(0)`), with EIP-2612
 * permit. Only the bridge that created it can mint and burn; it burns without an allowance, so users withdraw
 * without approving the bridge.
 */
contract WrappedToken is ERC20Permit {
    /// @notice The bridge that created this token and is the only minter and burner.
    address public immutable bridge;

    /// @notice The L1 token this token represents (`address(0)` for ETH).
    address public immutable l1Token;

    uint8 private immutable _tokenDecimals;

    /// @dev `caller` is not the bridge.
    error OnlyBridge(address caller);

    modifier onlyBridge() {
        if (msg.sender != bridge) revert OnlyBridge(msg.sender);
        _;
    }

    /// @dev Must be created by an {IWrappedTokenDeployer}, which provides name, symbol and decimals.
    constructor() ERC20(_creatorName(), _creatorSymbol()) ERC20Permit(_creatorName()) {
        (address l1Token_, , , uint8 decimals_) = IWrappedTokenDeployer(msg.sender).wrappedTokenParameters();
        bridge = msg.sender;
        l1Token = l1Token_;
        _tokenDecimals = decimals_;
    }

    /// @notice Decimals of the L1 token, as provided by the bridge.
    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }

    /**
     * @notice Mints `amount` to `to`. Bridge only.
     * @param to Recipient.
     * @param amount Amount to mint.
     */
    function mint(address to, uint256 amount) external onlyBridge {
        _mint(to, amount);
    }

    /**
     * @notice Burns `amount` from `from` without an allowance. Bridge only.
     * @param from Holder whose tokens are burned.
     * @param amount Amount to burn.
     */
    function burn(address from, uint256 amount) external onlyBridge {
        _burn(from, amount);
    }

    function _creatorName() private view returns (string memory name_) {
        (, name_, , ) = IWrappedTokenDeployer(msg.sender).wrappedTokenParameters();
    }

    function _creatorSymbol() private view returns (string memory symbol_) {
        (, , symbol_, ) = IWrappedTokenDeployer(msg.sender).wrappedTokenParameters();
    }
}
