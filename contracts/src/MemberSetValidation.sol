// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title MemberSetValidation
 * @dev Rules shared by every M-of-N set of the bridge (L1 vault signers, sidechain relayers): the set is not
 * empty and not larger than a cap, holds no zero address and no duplicate, and the threshold is at least one and
 * at most the size of the set. Every path that writes a set (constructors included) goes through
 * {_validateMemberSet}, so a threshold of zero or above the set can never be stored.
 */
abstract contract MemberSetValidation {
    /// @dev `threshold` is zero or larger than the `setSize` it applies to.
    error InvalidThreshold(uint256 threshold, uint256 setSize);

    /// @dev The set contains the zero address.
    error ZeroAddressMember();

    /// @dev The set contains `member` more than once.
    error DuplicateMember(address member);

    /// @dev The set has `size` members, more than the supported `maxSize`.
    error MemberSetTooLarge(uint256 size, uint256 maxSize);

    /// @dev Reverts unless `members` and `threshold` form a valid M-of-N set of at most `maxSize` members.
    function _validateMemberSet(address[] memory members, uint256 threshold, uint256 maxSize) internal pure {
        uint256 size = members.length;
        if (size > maxSize) revert MemberSetTooLarge(size, maxSize);
        if (threshold == 0 || threshold > size) revert InvalidThreshold(threshold, size);
        for (uint256 i = 0; i < size; ++i) {
            address member = members[i];
            if (member == address(0)) revert ZeroAddressMember();
            // Quadratic, but the set is capped at `maxSize` and this runs only on configuration changes.
            for (uint256 j = 0; j < i; ++j) {
                if (members[j] == member) revert DuplicateMember(member);
            }
        }
    }
}
