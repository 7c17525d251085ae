// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title MemberSetValidation
 * @dev Rules shared by every M-of-N set of the bridge (L1 vault signers, sidechain relayers): the set is not
 * empty and not larger than a cap, holds no zero address and no duplicate, and the threshold is at least one and
 * at most the size of the set. Every path that writes a set (constructors included) goes through
 * {_validateMemberSet}, so a threshold of zero or above the set can never be stored. Signatures of a set are
 * counted in one place, {_verifyQuorum}, for the vault's releases and rotations and the sidechain bridge's relayer
 * rotations alike.
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

    /// @dev Fewer signatures than the threshold.
    error InsufficientSignatures(uint256 provided, uint256 required);
    /// @dev The signature at `index` is malformed or recovers to no address.
    error InvalidSignature(uint256 index);
    /// @dev The signature at `index` has an s value in the upper half of the curve order (malleable twin).
    error HighSSignature(uint256 index);
    /// @dev The signature at `index` recovers to `signer`, which is not in the current set.
    error NotSigner(uint256 index, address signer);
    /// @dev The signature at `index` is a second one by `signer`.
    error DuplicateSigner(uint256 index, address signer);
    /// @dev The signer of the signature at `index` does not sort strictly after the previous one.
    error UnsortedSigners(uint256 index, address signer);

    /// @dev Reverts unless `signatures` are at least `required` valid low-s signatures of `digest` by distinct
    /// members (`isMember`) in strictly ascending signer order. Each signer is recovered here; nothing the caller
    /// claims is trusted.
    function _verifyQuorum(
        bytes32 digest,
        bytes[] calldata signatures,
        uint256 required,
        function(address) internal view returns (bool) isMember
    ) internal view {
        if (signatures.length < required) revert InsufficientSignatures(signatures.length, required);
        address previous = address(0);
        for (uint256 i = 0; i < signatures.length; ++i) {
            (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err == ECDSA.RecoverError.InvalidSignatureS) revert HighSSignature(i);
            // tryRecover never returns address(0) without an error, so a zero signer is rejected here too.
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (!isMember(signer)) revert NotSigner(i, signer);
            if (signer == previous) revert DuplicateSigner(i, signer);
            if (signer < previous) revert UnsortedSigners(i, signer);
            previous = signer;
        }
    }

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
