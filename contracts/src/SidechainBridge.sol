// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {Create2} from "@openzeppelin/contracts/utils/Create2.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {BridgeMessages, Withdrawal} from "./BridgeMessages.sol";
import {MemberSetValidation} from "./MemberSetValidation.sol";
import {IWrappedTokenDeployer, WrappedToken} from "./WrappedToken.sol";

/**
 * @title SidechainBridge
 * @notice Sidechain side of the bridge.
 *
 * Deposits: relayers report each L1 `Deposited` event with {confirmDeposit}. Each relayer has one vote per deposit
 * id; votes are tallied per payload hash `keccak256(abi.encode(l1ChainId, l1Vault, depositId, l1Token, to,
 * amount))` (bound to the vault it came from), and the first
 * payload to collect `threshold` votes is minted, exactly once. A vote whose payload differs from the first payload
 * seen for that id, from the relayer's own earlier vote, or from the minted payload emits {DepositConflict}: it
 * never adds to another payload's tally, and after the mint it is not counted at all. (A single faulty relayer
 * therefore cannot block a deposit by confirming a wrong payload first.) Votes are tied to the relayer-set epoch:
 * after {rotateRelayers} pending deposits must be confirmed again by the new set. Deposit ids below
 * {firstDepositId} are refused, so a bridge deployed for a vault that an earlier bridge served cannot mint the
 * earlier bridge's deposits again.
 *
 * Tokens: one {WrappedToken} per L1 token (ETH is `address(0)`), created by CREATE2 with salt = L1 token address
 * on the first minted deposit (default metadata) or beforehand by the owner with {createWrappedToken}.
 *
 * Withdrawals: {withdraw} burns (no approval needed) and records the withdrawal under a contiguous id starting at
 * the constructor's `firstWithdrawalId`; the L1 payload names this chain and this contract, so ids of different
 * bridge instances never collide on L1. Amounts outside the token's {withdrawalLimits} (a minimum that keeps dust
 * from costing the relayers L1 gas, and a maximum mirroring what the vault can release in one transaction) are
 * refused before anything is burned. Relayers store their EIP-712 signatures of it for the L1 vault with {submitSignature}; the contract checks
 * each against the configured L1 domain (chain id, vault, signer epoch), and anyone reads them back with
 * {getSignatures} to call `BridgeVault.release`.
 *
 * Who mints is decided by the L1 vault's signer quorum, never by one key: {rotateRelayers} takes the same
 * `SignerSetUpdate` signatures (L1 vault domain, next signer epoch) that the vault's `rotateSigners` takes, so one
 * quorum-signed message moves both chains to the new set, threshold and L1 signer epoch, and anyone may relay it.
 * Relayer messages can only vote, mint and record signatures. The owner holds only settings that cannot move
 * funds: the guardian, unpausing, token metadata before a token's first deposit, and withdrawal limits. The
 * constructor sets everything and does not depend on the contract's own address, so the contract can be
 * predeployed in a genesis by running the constructor elsewhere and copying code and storage.
 */
contract SidechainBridge is IWrappedTokenDeployer, Pausable, ReentrancyGuard, Ownable2Step, MemberSetValidation {
    /// @notice A withdrawal burned on the sidechain.
    struct WithdrawalRecord {
        address l1Token;
        address token;
        address from;
        address l1Recipient;
        uint256 amount;
    }

    struct DepositVotes {
        bytes32 firstPayload;
        mapping(address relayer => bytes32 payloadHash) voteOf;
        mapping(bytes32 payloadHash => uint256 votes) tally;
    }

    struct StoredSignature {
        address signer;
        bytes signature;
    }

    /// @notice Bounds of one withdrawal of a wrapped token (zero means no bound).
    struct WithdrawalLimits {
        uint256 minAmount;
        uint256 maxAmount;
    }

    struct PendingToken {
        address l1Token;
        string name;
        string symbol;
        uint8 decimals;
    }

    /// @notice Largest supported relayer set.
    uint256 public constant MAX_RELAYERS = 32;

    /// @notice Longest wrapped-token name: it is also the token's EIP-712 domain name, which OpenZeppelin caps.
    uint256 public constant MAX_TOKEN_NAME_LENGTH = 31;

    /// @notice Chain id of L1, part of the vault's EIP-712 domain.
    uint256 public immutable l1ChainId;

    /// @notice Address of the L1 vault, part of its EIP-712 domain.
    address public immutable l1Vault;

    /// @notice Lowest deposit id this bridge mints (deposits below were served by an earlier bridge instance).
    uint256 public immutable firstDepositId;

    bytes32 private immutable _l1DomainSeparator;

    /// @notice Account allowed to pause.
    address public guardian;

    /// @notice Signer epoch of the L1 vault that relayer signatures are checked and stored against.
    uint256 public l1SignerEpoch;

    /// @notice Number of relayer votes that mint a deposit.
    uint256 public threshold;

    /// @notice Epoch of the relayer set: 0 for the constructor's set, +1 on every {rotateRelayers}.
    uint256 public relayerEpoch;

    /// @notice Id of the next withdrawal (ids start at the constructor's `firstWithdrawalId`).
    uint256 public withdrawalCount;

    /// @notice Lowest withdrawal id of this bridge.
    uint256 public immutable firstWithdrawalId;

    /// @notice Payload hash minted for `depositId`, or zero while it is not minted.
    mapping(uint256 depositId => bytes32 payloadHash) public mintedPayload;

    /// @notice Wrapped token of `l1Token` (`address(0)` for ETH), or zero if not created yet.
    mapping(address l1Token => address token) public wrappedTokenOf;

    /// @notice Whether `token` is a wrapped token of this bridge.
    mapping(address token => bool) public isWrappedToken;

    /// @notice L1 token of the wrapped `token` (meaningful only if {isWrappedToken}).
    mapping(address token => address l1Token) public l1TokenOf;

    address[] private _relayers;
    mapping(uint256 epoch => mapping(address account => bool)) private _isRelayer;
    mapping(uint256 epoch => mapping(uint256 depositId => DepositVotes)) private _votes;
    mapping(uint256 withdrawalId => WithdrawalRecord) private _withdrawals;
    mapping(uint256 withdrawalId => mapping(uint256 l1Epoch => StoredSignature[])) private _signatures;
    mapping(uint256 withdrawalId => mapping(uint256 l1Epoch => mapping(address signer => bool))) private _hasSigned;
    mapping(address token => WithdrawalLimits) private _withdrawalLimits;
    PendingToken private _pendingToken;

    /// @notice `relayer` voted for `payloadHash` of `depositId`, which now has `votes` votes.
    event DepositConfirmed(uint256 indexed depositId, address indexed relayer, bytes32 payloadHash, uint256 votes);

    /// @notice `relayer` reported `conflictingPayloadHash` for `depositId`, which differs from `knownPayloadHash`.
    event DepositConflict(
        uint256 indexed depositId,
        address indexed relayer,
        bytes32 knownPayloadHash,
        bytes32 conflictingPayloadHash
    );

    /// @notice Deposit `depositId` was minted: `amount` of wrapped `token` to `to`.
    event DepositMinted(
        uint256 indexed depositId,
        address indexed l1Token,
        address indexed to,
        address token,
        uint256 amount
    );

    /// @notice `from` burned `amount` to be released to `l1Recipient` on L1.
    event WithdrawalInitiated(
        uint256 indexed withdrawalId,
        address indexed l1Token,
        address indexed from,
        address l1Recipient,
        uint256 amount
    );

    /// @notice `signer` stored its signature of `withdrawalId` for L1 signer epoch `l1Epoch`.
    event SignatureSubmitted(uint256 indexed withdrawalId, address indexed signer, uint256 l1Epoch);

    /// @notice The wrapped token of `l1Token` was created.
    event WrappedTokenCreated(address indexed l1Token, address indexed token, string name, string symbol, uint8 decimals);

    /// @notice A new relayer set became current.
    event RelayersUpdated(uint256 indexed relayerEpoch, address[] relayers, uint256 threshold);

    /// @notice The L1 signer epoch used for signatures changed.
    event L1SignerEpochUpdated(uint256 previousEpoch, uint256 newEpoch);

    /// @notice The guardian changed.
    event GuardianUpdated(address indexed previousGuardian, address indexed newGuardian);

    /// @notice Withdrawals of `token` must now be at least `minAmount` and at most `maxAmount` (0: unbounded).
    event WithdrawalLimitsUpdated(address indexed token, uint256 minAmount, uint256 maxAmount);

    /// @dev `caller` is not a current relayer.
    error NotRelayer(address caller);
    /// @dev `caller` is not the guardian.
    error NotGuardian(address caller);
    /// @dev An address parameter is the zero address.
    error ZeroAddress();
    /// @dev The amount is zero.
    error ZeroAmount();
    /// @dev The recipient is the zero address.
    error InvalidRecipient();
    /// @dev `token` is not a wrapped token of this bridge.
    error UnknownToken(address token);
    /// @dev No withdrawal has id `withdrawalId`.
    error UnknownWithdrawal(uint256 withdrawalId);
    /// @dev The wrapped token of `l1Token` already exists.
    error WrappedTokenExists(address l1Token);
    /// @dev The signature submitted by `relayer` recovers to `recovered` (zero if malformed or high-s).
    error InvalidRelayerSignature(address relayer, address recovered);
    /// @dev `name` is empty or longer than `MAX_TOKEN_NAME_LENGTH` bytes.
    error InvalidTokenName(string name);
    /// @dev `depositId` is below {firstDepositId}: it belongs to an earlier bridge instance.
    error DepositIdBeforeFirst(uint256 depositId, uint256 firstDepositId);
    /// @dev `amount` of `token` is below its minimum withdrawal `minAmount`.
    error WithdrawalBelowMinimum(address token, uint256 amount, uint256 minAmount);
    /// @dev `amount` of `token` is above what the vault releases in one transaction, `maxAmount`.
    error WithdrawalAboveMaximum(address token, uint256 amount, uint256 maxAmount);
    /// @dev `minAmount` is above a non-zero `maxAmount`.
    error InvalidWithdrawalLimits(uint256 minAmount, uint256 maxAmount);
    /// @dev The owner cannot be renounced: nobody could unpause or set withdrawal limits anymore.
    error RenounceOwnershipDisabled();

    modifier onlyRelayer() {
        if (!_isRelayer[relayerEpoch][msg.sender]) revert NotRelayer(msg.sender);
        _;
    }

    modifier onlyGuardian() {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        _;
    }

    /**
     * @param initialOwner Owner (guardian, token metadata, withdrawal limits, unpause).
     * @param initialGuardian Account that can pause.
     * @param initialRelayers Relayer set of epoch 0.
     * @param initialThreshold Votes needed to mint, 1 to `initialRelayers.length`.
     * @param l1ChainId_ Chain id of L1.
     * @param l1Vault_ Address of the L1 {BridgeVault}.
     * @param l1SignerEpoch_ Current signer epoch of the L1 vault.
     * @param firstDepositId_ Lowest L1 deposit id to mint: 0 for the vault's first bridge, the vault's
     * `depositCount` at the switch for a later one.
     * @param firstWithdrawalId_ Id of the first withdrawal (any value: ids are bound to this contract on L1).
     */
    constructor(
        address initialOwner,
        address initialGuardian,
        address[] memory initialRelayers,
        uint256 initialThreshold,
        uint256 l1ChainId_,
        address l1Vault_,
        uint256 l1SignerEpoch_,
        uint256 firstDepositId_,
        uint256 firstWithdrawalId_
    ) Ownable(initialOwner) {
        if (l1Vault_ == address(0)) revert ZeroAddress();
        l1ChainId = l1ChainId_;
        l1Vault = l1Vault_;
        _l1DomainSeparator = BridgeMessages.domainSeparator(l1ChainId_, l1Vault_);
        l1SignerEpoch = l1SignerEpoch_;
        firstDepositId = firstDepositId_;
        firstWithdrawalId = firstWithdrawalId_;
        withdrawalCount = firstWithdrawalId_;
        _setGuardian(initialGuardian);
        _validateMemberSet(initialRelayers, initialThreshold, MAX_RELAYERS);
        _setRelayers(initialRelayers, initialThreshold, 0);
    }

    // ------------------------------------------------------------------------------------------------ deposits

    /**
     * @notice Votes for an L1 deposit; mints when the payload reaches `threshold` votes. Relayers only.
     * A repeated vote is a no-op; a conflicting one emits {DepositConflict} (see the contract documentation).
     * @param depositId Id from the vault's `Deposited` event.
     * @param l1Token L1 token (`address(0)` for ETH).
     * @param to Recipient on the sidechain.
     * @param amount Amount credited on L1.
     * @return minted Whether this call minted the deposit.
     */
    function confirmDeposit(
        uint256 depositId,
        address l1Token,
        address to,
        uint256 amount
    ) external nonReentrant whenNotPaused onlyRelayer returns (bool minted) {
        if (depositId < firstDepositId) revert DepositIdBeforeFirst(depositId, firstDepositId);
        if (to == address(0)) revert InvalidRecipient();
        if (amount == 0) revert ZeroAmount();
        bytes32 payload = depositPayloadHash(depositId, l1Token, to, amount);

        bytes32 mintedHash = mintedPayload[depositId];
        if (mintedHash != bytes32(0)) {
            if (mintedHash != payload) emit DepositConflict(depositId, msg.sender, mintedHash, payload);
            return false;
        }

        DepositVotes storage votes = _votes[relayerEpoch][depositId];
        bytes32 previousVote = votes.voteOf[msg.sender];
        if (previousVote != bytes32(0)) {
            if (previousVote != payload) emit DepositConflict(depositId, msg.sender, previousVote, payload);
            return false;
        }
        bytes32 firstPayload = votes.firstPayload;
        if (firstPayload == bytes32(0)) {
            votes.firstPayload = payload;
        } else if (firstPayload != payload) {
            emit DepositConflict(depositId, msg.sender, firstPayload, payload);
        }
        votes.voteOf[msg.sender] = payload;
        uint256 count = ++votes.tally[payload];
        emit DepositConfirmed(depositId, msg.sender, payload, count);
        if (count < threshold) return false;

        mintedPayload[depositId] = payload;
        address token = wrappedTokenOf[l1Token];
        if (token == address(0)) {
            (string memory name, string memory symbol, uint8 decimals) = _defaultMetadata(l1Token);
            token = _createWrappedToken(l1Token, name, symbol, decimals);
        }
        WrappedToken(token).mint(to, amount);
        emit DepositMinted(depositId, l1Token, to, token, amount);
        _dropGas(depositId, to);
        return true;
    }

    // --------------------------------------------------------------------------------------------- withdrawals

    /**
     * @notice Burns `amount` of the wrapped `token` from the caller (no approval needed) to release it to
     * `l1Recipient` on L1.
     * @param token Wrapped token of this bridge.
     * @param amount Amount to burn.
     * @param l1Recipient Recipient on L1.
     * @return withdrawalId Id of this withdrawal.
     */
    function withdraw(
        address token,
        uint256 amount,
        address l1Recipient
    ) external nonReentrant whenNotPaused returns (uint256 withdrawalId) {
        if (!isWrappedToken[token]) revert UnknownToken(token);
        if (amount == 0) revert ZeroAmount();
        if (l1Recipient == address(0)) revert InvalidRecipient();
        WithdrawalLimits memory limits = _withdrawalLimits[token];
        if (amount < limits.minAmount) revert WithdrawalBelowMinimum(token, amount, limits.minAmount);
        if (limits.maxAmount != 0 && amount > limits.maxAmount) {
            revert WithdrawalAboveMaximum(token, amount, limits.maxAmount);
        }
        address l1Token = l1TokenOf[token];
        withdrawalId = withdrawalCount++;
        _withdrawals[withdrawalId] = WithdrawalRecord(l1Token, token, msg.sender, l1Recipient, amount);
        WrappedToken(token).burn(msg.sender, amount);
        emit WithdrawalInitiated(withdrawalId, l1Token, msg.sender, l1Recipient, amount);
    }

    /**
     * @notice Stores the caller's EIP-712 signature of withdrawal `withdrawalId` for the L1 vault, as
     * {l1Withdrawal} returns it (current {l1SignerEpoch}). The signature must recover to the caller. Relayers only;
     * submitting again for the same epoch is a no-op.
     * @param withdrawalId Withdrawal to sign.
     * @param signature 65-byte low-s signature.
     * @return stored Whether the signature was stored by this call.
     */
    function submitSignature(
        uint256 withdrawalId,
        bytes calldata signature
    ) external whenNotPaused onlyRelayer returns (bool stored) {
        uint256 epoch = l1SignerEpoch;
        bytes32 digest = withdrawalDigest(withdrawalId);
        if (_hasSigned[withdrawalId][epoch][msg.sender]) return false;
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != msg.sender) {
            revert InvalidRelayerSignature(msg.sender, recovered);
        }
        _hasSigned[withdrawalId][epoch][msg.sender] = true;
        _signatures[withdrawalId][epoch].push(StoredSignature(msg.sender, signature));
        emit SignatureSubmitted(withdrawalId, msg.sender, epoch);
        return true;
    }

    // ------------------------------------------------------------------------------------------ gas on arrival
    // One block on purpose (state, events, errors, functions): it merges cleanly with other edits of this file.
    //
    // A deposit to an address without native coin would leave it unable to withdraw or move the wrapped tokens.
    // The minting vote therefore also sends a one-time drop of native coin from a reserve this contract holds
    // (funded by anyone with a plain transfer, e.g. in the genesis alloc). It is decided inside the mint, so every
    // validator executes the same decision and the relayers sign nothing new. The drop never makes the mint
    // revert: when the reserve or the 24 h cap cannot pay, or the recipient refuses the coin, the mint stands and
    // {GasDropRefused} says why.

    /// @notice Why a drop was not sent to a recipient that qualified for one.
    enum GasDropRefusal {
        ReserveEmpty,
        WindowFull,
        RecipientRejected
    }

    /// @notice Gas drop settings, in wei of the native coin. `amount` zero disables drops.
    struct GasDropSettings {
        /// Native coin sent once to a qualifying recipient.
        uint128 amount;
        /// A recipient holding this much or more gets nothing.
        uint128 balanceThreshold;
        /// Most native coin dropped per {GAS_DROP_WINDOW}.
        uint128 windowCap;
    }

    /// @notice Length of the window the drops are capped over (a fixed window from its first drop).
    uint256 public constant GAS_DROP_WINDOW = 24 hours;

    /// @notice Gas the recipient gets with its drop: enough for an account, too little to do work in our call.
    uint256 public constant GAS_DROP_STIPEND = 10_000;

    /// @notice Least gas left before the drop is attempted, so a caller cannot make the recipient's call fail by
    /// sending too little gas (the stipend, the 63/64 rule, value transfer and new-account costs, bookkeeping).
    uint256 public constant GAS_DROP_MIN_GAS = 80_000;

    GasDropSettings private _gasDropSettings;

    /// @notice Start of the current drop window.
    uint256 public gasDropWindowStart;

    /// @notice Native coin dropped since {gasDropWindowStart}.
    uint256 public gasDropWindowUsed;

    /// @notice Whether `account` already received its drop.
    mapping(address account => bool) public gasDropped;

    /// @notice Drops sent so far.
    uint256 public gasDropCount;

    /// @notice Native coin dropped so far, in wei.
    uint256 public gasDroppedTotal;

    /// @notice Refusals so far per reason.
    mapping(GasDropRefusal reason => uint256 count) public gasDropRefusals;

    /// @notice `amount` of native coin was dropped to `to` with the mint of `depositId`.
    event GasDropped(uint256 indexed depositId, address indexed to, uint256 amount);

    /// @notice `to` qualified for a drop with the mint of `depositId`, but got none because of `reason`.
    event GasDropRefused(uint256 indexed depositId, address indexed to, GasDropRefusal reason);

    /// @notice The drop settings changed.
    event GasDropSettingsUpdated(uint256 amount, uint256 balanceThreshold, uint256 windowCap);

    /// @notice `from` added `amount` to the reserve.
    event GasReserveFunded(address indexed from, uint256 amount);

    /// @dev Drop settings out of range: `amount` above `windowCap`, or a value above 2^128 - 1.
    error InvalidGasDropSettings(uint256 amount, uint256 balanceThreshold, uint256 windowCap);

    /// @dev Less than {GAS_DROP_MIN_GAS} gas was left for the drop; resend with more gas.
    error GasDropNeedsGas(uint256 gasLeft);

    /// @notice Funds the gas drop reserve. The reserve leaves this contract only as drops.
    receive() external payable {
        emit GasReserveFunded(msg.sender, msg.value);
    }

    /**
     * @notice Sets the gas drop. Owner only: it spends only the reserve, only on depositors, within `windowCap`.
     * @param amount Native coin per drop (0 disables drops).
     * @param balanceThreshold Recipients holding at least this much get nothing.
     * @param windowCap Most native coin dropped per {GAS_DROP_WINDOW}, at least `amount`.
     */
    function setGasDrop(uint256 amount, uint256 balanceThreshold, uint256 windowCap) external onlyOwner {
        if (
            amount > type(uint128).max ||
            balanceThreshold > type(uint128).max ||
            windowCap > type(uint128).max ||
            amount > windowCap
        ) revert InvalidGasDropSettings(amount, balanceThreshold, windowCap);
        _gasDropSettings = GasDropSettings(uint128(amount), uint128(balanceThreshold), uint128(windowCap));
        emit GasDropSettingsUpdated(amount, balanceThreshold, windowCap);
    }

    /// @notice The gas drop settings.
    function gasDropSettings() external view returns (GasDropSettings memory) {
        return _gasDropSettings;
    }

    /// @notice Native coin the reserve holds.
    function gasReserve() external view returns (uint256) {
        return address(this).balance;
    }

    /// @notice Native coin that can still be dropped in the current window.
    function gasDropWindowRemaining() external view returns (uint256) {
        uint256 cap = _gasDropSettings.windowCap;
        if (block.timestamp >= gasDropWindowStart + GAS_DROP_WINDOW) return cap;
        return gasDropWindowUsed >= cap ? 0 : cap - gasDropWindowUsed;
    }

    /// @notice Whether a mint to `to` now would bring it a drop (`refusal` is meaningful when `qualifies` and not
    /// `willDrop`). A recipient contract may still refuse the coin.
    function gasDropPreview(
        address to
    ) external view returns (bool qualifies, bool willDrop, GasDropRefusal refusal) {
        GasDropSettings memory s = _gasDropSettings;
        if (s.amount == 0 || gasDropped[to] || to.balance >= s.balanceThreshold) {
            return (false, false, GasDropRefusal.ReserveEmpty);
        }
        uint256 used = block.timestamp >= gasDropWindowStart + GAS_DROP_WINDOW ? 0 : gasDropWindowUsed;
        if (address(this).balance < s.amount) return (true, false, GasDropRefusal.ReserveEmpty);
        if (used + s.amount > s.windowCap) return (true, false, GasDropRefusal.WindowFull);
        return (true, true, GasDropRefusal.ReserveEmpty);
    }

    function _dropGas(uint256 depositId, address to) private {
        GasDropSettings memory s = _gasDropSettings;
        if (s.amount == 0 || gasDropped[to] || to.balance >= s.balanceThreshold) return;
        if (block.timestamp >= gasDropWindowStart + GAS_DROP_WINDOW) {
            gasDropWindowStart = block.timestamp;
            gasDropWindowUsed = 0;
        }
        GasDropRefusal reason;
        if (address(this).balance < s.amount) {
            reason = GasDropRefusal.ReserveEmpty;
        } else if (gasDropWindowUsed + s.amount > s.windowCap) {
            reason = GasDropRefusal.WindowFull;
        } else {
            uint256 left = gasleft();
            if (left < GAS_DROP_MIN_GAS) revert GasDropNeedsGas(left);
            // Effects before the interaction; confirmDeposit is also nonReentrant.
            gasDropped[to] = true;
            gasDropWindowUsed += s.amount;
            (bool sent, ) = to.call{value: s.amount, gas: GAS_DROP_STIPEND}("");
            if (sent) {
                ++gasDropCount;
                gasDroppedTotal += s.amount;
                emit GasDropped(depositId, to, s.amount);
                return;
            }
            gasDropped[to] = false;
            gasDropWindowUsed -= s.amount;
            reason = GasDropRefusal.RecipientRejected;
        }
        ++gasDropRefusals[reason];
        emit GasDropRefused(depositId, to, reason);
    }

    // ----------------------------------------------------------------------------------------- administration

    /**
     * @notice Moves the bridge to a new relayer set and threshold, authorized only by signatures of the current
     * set: the L1 vault's EIP-712 `SignerSetUpdate({relayerSetHash}, newRelayers, newThreshold, l1SignerEpoch +
     * 1)`, the message the vault's `rotateSigners` takes, so the same signatures rotate both chains (whose sets
     * are the same, in the same order). An update signed over another set (the vault's, after the chains split)
     * does not apply. Anyone may submit it. The L1 signer
     * epoch advances with it; pending deposit votes of the previous set stop counting.
     * @param newRelayers Relayers (no zero address, no duplicates, at most `MAX_RELAYERS`).
     * @param newThreshold Votes needed to mint, 1 to `newRelayers.length`.
     * @param signatures At least {threshold} signatures by distinct current relayers, ordered by strictly
     * ascending signer address.
     */
    function rotateRelayers(
        address[] calldata newRelayers,
        uint256 newThreshold,
        bytes[] calldata signatures
    ) external nonReentrant {
        _validateMemberSet(newRelayers, newThreshold, MAX_RELAYERS);
        uint256 previousEpoch = l1SignerEpoch;
        uint256 nextEpoch = previousEpoch + 1;
        _verifyQuorum(
            signerSetUpdateDigest(relayerSetHash(), newRelayers, newThreshold, nextEpoch),
            signatures,
            threshold,
            _isCurrentRelayer
        );
        l1SignerEpoch = nextEpoch;
        emit L1SignerEpochUpdated(previousEpoch, nextEpoch);
        _setRelayers(newRelayers, newThreshold, relayerEpoch + 1);
    }

    /**
     * @notice Sets the bounds of one withdrawal of the wrapped `token`: a minimum (dust would cost the relayers
     * more L1 gas than it moves) and a maximum (the vault's per-transaction release limit: a larger burn could
     * never be released). Limits only refuse withdrawals before anything is burned; they cannot move funds.
     * @param token A wrapped token of this bridge.
     * @param minAmount Smallest withdrawal (0: none).
     * @param maxAmount Largest withdrawal (0: unbounded).
     */
    function setWithdrawalLimits(address token, uint256 minAmount, uint256 maxAmount) external onlyOwner {
        if (!isWrappedToken[token]) revert UnknownToken(token);
        if (maxAmount != 0 && minAmount > maxAmount) revert InvalidWithdrawalLimits(minAmount, maxAmount);
        _withdrawalLimits[token] = WithdrawalLimits(minAmount, maxAmount);
        emit WithdrawalLimitsUpdated(token, minAmount, maxAmount);
    }

    /**
     * @notice Creates the wrapped token of `l1Token` with the given metadata before its first deposit.
     * @param l1Token L1 token (`address(0)` for ETH).
     * @param name Token name (also its EIP-2612 domain name), 1 to 31 bytes.
     * @param symbol Token symbol.
     * @param decimals Decimals; should match the L1 token.
     * @return token Address of the wrapped token, equal to {computeWrappedTokenAddress}.
     */
    function createWrappedToken(
        address l1Token,
        string calldata name,
        string calldata symbol,
        uint8 decimals
    ) external onlyOwner returns (address token) {
        if (wrappedTokenOf[l1Token] != address(0)) revert WrappedTokenExists(l1Token);
        if (bytes(name).length == 0 || bytes(name).length > MAX_TOKEN_NAME_LENGTH) revert InvalidTokenName(name);
        return _createWrappedToken(l1Token, name, symbol, decimals);
    }

    /// @notice Sets the account allowed to pause.
    function setGuardian(address newGuardian) external onlyOwner {
        _setGuardian(newGuardian);
    }

    /// @notice Stops deposit confirmations, withdrawals and signature submissions. Guardian only.
    function pause() external onlyGuardian {
        _pause();
    }

    /// @notice Resumes the bridge. Owner only.
    function unpause() external onlyOwner {
        _unpause();
    }

    /// @notice Disabled: the bridge must always have an owner.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceOwnershipDisabled();
    }

    // --------------------------------------------------------------------------------------------------- views

    /// @notice The current relayer set.
    function relayers() external view returns (address[] memory) {
        return _relayers;
    }

    /// @notice Whether `account` is a current relayer.
    function isRelayer(address account) external view returns (bool) {
        return _isRelayer[relayerEpoch][account];
    }

    /// @notice Payload hash `relayer` voted for on `depositId` in the current relayer epoch (zero if none).
    function voteOf(uint256 depositId, address relayer) external view returns (bytes32) {
        return _votes[relayerEpoch][depositId].voteOf[relayer];
    }

    /// @notice Votes `payloadHash` of `depositId` has in the current relayer epoch.
    function votesFor(uint256 depositId, bytes32 payloadHash) external view returns (uint256) {
        return _votes[relayerEpoch][depositId].tally[payloadHash];
    }

    /// @notice Hash that relayers vote on for a deposit of the configured vault.
    function depositPayloadHash(
        uint256 depositId,
        address l1Token,
        address to,
        uint256 amount
    ) public view returns (bytes32) {
        return keccak256(abi.encode(l1ChainId, l1Vault, depositId, l1Token, to, amount));
    }

    /// @notice Bounds of one withdrawal of `token` (zero: unbounded).
    function withdrawalLimits(address token) external view returns (WithdrawalLimits memory) {
        return _withdrawalLimits[token];
    }

    /// @notice Digest (L1 vault domain) the relayers of the set with hash `previousSetHash` sign to rotate to
    /// (`newRelayers`, `newThreshold`) as L1 signer epoch `epoch`; identical to the vault's `signerSetUpdateDigest`.
    function signerSetUpdateDigest(
        bytes32 previousSetHash,
        address[] calldata newRelayers,
        uint256 newThreshold,
        uint256 epoch
    ) public view returns (bytes32) {
        return
            MessageHashUtils.toTypedDataHash(
                _l1DomainSeparator,
                BridgeMessages.hashSignerSetUpdate(previousSetHash, newRelayers, newThreshold, epoch)
            );
    }

    /// @notice Hash of the current relayer set and threshold (`BridgeMessages.memberSetHash`); equal to the
    /// vault's `signerSetHash` while both chains follow the same rotations.
    function relayerSetHash() public view returns (bytes32) {
        return BridgeMessages.memberSetHash(_relayers, threshold);
    }

    /// @notice Address the wrapped token of `l1Token` has or will have.
    function computeWrappedTokenAddress(address l1Token) public view returns (address) {
        return Create2.computeAddress(_tokenSalt(l1Token), keccak256(type(WrappedToken).creationCode));
    }

    /// @inheritdoc IWrappedTokenDeployer
    function wrappedTokenParameters()
        external
        view
        returns (address l1Token, string memory name, string memory symbol, uint8 decimals)
    {
        PendingToken storage p = _pendingToken;
        return (p.l1Token, p.name, p.symbol, p.decimals);
    }

    /// @notice The withdrawal `withdrawalId`.
    function getWithdrawal(uint256 withdrawalId) public view returns (WithdrawalRecord memory) {
        if (withdrawalId < firstWithdrawalId || withdrawalId >= withdrawalCount) revert UnknownWithdrawal(withdrawalId);
        return _withdrawals[withdrawalId];
    }

    /// @notice The withdrawal `withdrawalId` as the L1 vault's `release` takes it, for the current L1 epoch.
    function l1Withdrawal(uint256 withdrawalId) public view returns (Withdrawal memory) {
        WithdrawalRecord memory r = getWithdrawal(withdrawalId);
        return Withdrawal(block.chainid, address(this), withdrawalId, r.l1Token, r.l1Recipient, r.amount, l1SignerEpoch);
    }

    /// @notice EIP-712 digest relayers sign for withdrawal `withdrawalId` (L1 domain, current L1 epoch).
    function withdrawalDigest(uint256 withdrawalId) public view returns (bytes32) {
        return
            MessageHashUtils.toTypedDataHash(
                _l1DomainSeparator,
                BridgeMessages.hashWithdrawal(l1Withdrawal(withdrawalId))
            );
    }

    /// @notice EIP-712 domain separator of the L1 vault.
    function l1DomainSeparator() external view returns (bytes32) {
        return _l1DomainSeparator;
    }

    /// @notice Stored signatures of `withdrawalId` for the current L1 epoch, sorted by ascending signer.
    function getSignatures(
        uint256 withdrawalId
    ) external view returns (address[] memory signers, bytes[] memory signatures) {
        return getSignaturesForEpoch(withdrawalId, l1SignerEpoch);
    }

    /// @notice Stored signatures of `withdrawalId` for L1 signer epoch `l1Epoch`, sorted by ascending signer.
    function getSignaturesForEpoch(
        uint256 withdrawalId,
        uint256 l1Epoch
    ) public view returns (address[] memory signers, bytes[] memory signatures) {
        StoredSignature[] storage stored = _signatures[withdrawalId][l1Epoch];
        uint256 n = stored.length;
        signers = new address[](n);
        signatures = new bytes[](n);
        for (uint256 i = 0; i < n; ++i) {
            // Insertion sort: at most MAX_RELAYERS entries per epoch.
            address signer = stored[i].signer;
            bytes memory signature = stored[i].signature;
            uint256 j = i;
            while (j > 0 && signers[j - 1] > signer) {
                signers[j] = signers[j - 1];
                signatures[j] = signatures[j - 1];
                --j;
            }
            signers[j] = signer;
            signatures[j] = signature;
        }
    }

    /// @notice Whether `signer` stored a signature of `withdrawalId` for L1 signer epoch `l1Epoch`.
    function hasSigned(uint256 withdrawalId, uint256 l1Epoch, address signer) external view returns (bool) {
        return _hasSigned[withdrawalId][l1Epoch][signer];
    }

    // ------------------------------------------------------------------------------------------------ internal

    function _createWrappedToken(
        address l1Token,
        string memory name,
        string memory symbol,
        uint8 decimals
    ) private returns (address token) {
        _pendingToken = PendingToken(l1Token, name, symbol, decimals);
        token = address(new WrappedToken{salt: _tokenSalt(l1Token)}());
        delete _pendingToken;
        wrappedTokenOf[l1Token] = token;
        isWrappedToken[token] = true;
        l1TokenOf[token] = l1Token;
        emit WrappedTokenCreated(l1Token, token, name, symbol, decimals);
    }

    function _defaultMetadata(
        address l1Token
    ) private pure returns (string memory name, string memory symbol, uint8 decimals) {
        if (l1Token == address(0)) return ("Bridged Ether", "bETH", 18);
        // EIP-712 (permit) names are limited to 31 bytes: the first 4 bytes of the address identify the token.
        return (string.concat("Bridged ", Strings.toHexString(uint160(l1Token) >> 128, 4)), "BRIDGED", 18);
    }

    function _tokenSalt(address l1Token) private pure returns (bytes32) {
        return bytes32(uint256(uint160(l1Token)));
    }

    function _setRelayers(address[] memory newRelayers, uint256 newThreshold, uint256 epoch) private {
        for (uint256 i = 0; i < newRelayers.length; ++i) {
            _isRelayer[epoch][newRelayers[i]] = true;
        }
        _relayers = newRelayers;
        threshold = newThreshold;
        relayerEpoch = epoch;
        emit RelayersUpdated(epoch, newRelayers, newThreshold);
    }

    function _isCurrentRelayer(address account) private view returns (bool) {
        return _isRelayer[relayerEpoch][account];
    }

    function _setGuardian(address newGuardian) private {
        if (newGuardian == address(0)) revert ZeroAddress();
        emit GuardianUpdated(guardian, newGuardian);
        guardian = newGuardian;
    }
}
