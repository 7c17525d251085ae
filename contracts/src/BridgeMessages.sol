// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/**
 * @dev A withdrawal burned on the sidechain, as the L1 vault releases it. Relayers sign it as EIP-712 typed data
 * in the vault's domain; `epoch` is the vault's signer-set epoch the signature was made for. `sourceChainId` and
 * `sourceBridge` name the sidechain bridge instance that burned it: withdrawal ids are unique only per instance,
 * so the vault consumes the triple (sourceChainId, sourceBridge, withdrawalId), never the id alone.
 */
struct Withdrawal {
    uint256 sourceChainId;
    address sourceBridge;
    uint256 withdrawalId;
    address token;
    address recipient;
    uint256 amount;
    uint256 epoch;
}

/**
 * @title BridgeMessages
 * @dev The EIP-712 messages of the bridge, in one place so that the L1 vault (which verifies them) and the
 * sidechain bridge (which checks relayer signatures before storing them) hash them identically.
 *
 * Domain: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)` with
 * name `"BridgeVault"`, version `"1"`, the L1 chain id and the vault address.
 */
library BridgeMessages {
    /// @dev EIP-712 domain name of the L1 vault.
    string internal constant DOMAIN_NAME = "BridgeVault";
    /// @dev EIP-712 domain version of the L1 vault.
    string internal constant DOMAIN_VERSION = "1";

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    bytes32 internal constant WITHDRAWAL_TYPEHASH =
        keccak256(
            "Withdrawal(uint256 sourceChainId,address sourceBridge,uint256 withdrawalId,address token,address recipient,uint256 amount,uint256 epoch)"
        );

    bytes32 internal constant SIGNER_SET_UPDATE_TYPEHASH =
        keccak256("SignerSetUpdate(bytes32 previousSetHash,address[] signers,uint256 threshold,uint256 epoch)");

    /// @dev EIP-712 struct hash of a {Withdrawal}.
    function hashWithdrawal(Withdrawal memory w) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    WITHDRAWAL_TYPEHASH,
                    w.sourceChainId,
                    w.sourceBridge,
                    w.withdrawalId,
                    w.token,
                    w.recipient,
                    w.amount,
                    w.epoch
                )
            );
    }

    /// @dev Key under which the vault records a withdrawal as released: ids are unique per source bridge only.
    function withdrawalKey(
        uint256 sourceChainId,
        address sourceBridge,
        uint256 withdrawalId
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(sourceChainId, sourceBridge, withdrawalId));
    }

    /// @dev EIP-712 struct hash of a signer-set update (`signers` is hashed as an EIP-712 `address[]`).
    /// `previousSetHash` ({memberSetHash} of the set and threshold being replaced) binds the update to the set it
    /// replaces: the vault and the sidechain bridge each apply it only over that set, so two chains that ever
    /// applied different updates for one epoch can never be moved on together by a later update, and a relayer
    /// sees the split as differing set hashes.
    function hashSignerSetUpdate(
        bytes32 previousSetHash,
        address[] memory signers,
        uint256 threshold,
        uint256 epoch
    ) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    SIGNER_SET_UPDATE_TYPEHASH,
                    previousSetHash,
                    keccak256(abi.encodePacked(signers)),
                    threshold,
                    epoch
                )
            );
    }

    /// @dev Hash of an M-of-N set: its members in order and its threshold.
    function memberSetHash(address[] memory members, uint256 threshold) internal pure returns (bytes32) {
        return keccak256(abi.encode(keccak256(abi.encodePacked(members)), threshold));
    }

    /// @dev Domain separator of a vault deployed at `vault` on chain `chainId`.
    function domainSeparator(uint256 chainId, address vault) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    DOMAIN_TYPEHASH,
                    keccak256(bytes(DOMAIN_NAME)),
                    keccak256(bytes(DOMAIN_VERSION)),
                    chainId,
                    vault
                )
            );
    }

    /// @dev Digest a vault at (`chainId`, `vault`) expects signatures over, for the struct hash `structHash`.
    function typedDataDigest(uint256 chainId, address vault, bytes32 structHash) internal pure returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(domainSeparator(chainId, vault), structHash);
    }
}
