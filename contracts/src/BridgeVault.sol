// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {RateLimiter} from "@openzeppelin/contracts/utils/RateLimiter.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {BridgeMessages, Withdrawal} from "./BridgeMessages.sol";
import {MemberSetValidation} from "./MemberSetValidation.sol";

/**
 * @title BridgeVault
 * @notice L1 side of the bridge. Users lock ETH and allow-listed ERC-20 tokens here (each lock is a `Deposited`
 * event with a contiguous `depositId`, the first being 0); the sidechain mints the wrapped tokens. Tokens burned on
 * the sidechain are released here against EIP-712 signatures of at least `threshold` members of the current signer
 * set (the bridge relayers).
 *
 * Security properties:
 * - signers are recovered from (digest, signature); only low-s, well-formed signatures of current members count,
 *   given in strictly ascending signer order (so duplicates are impossible);
 * - signatures bind chain id, this contract, the signer-set epoch and the full withdrawal;
 * - a withdrawal is released at most once, keyed by (source chain, source bridge, id) so that ids of another
 *   sidechain bridge instance can neither replay nor strand it (`processed` is set before any transfer);
 * - a recipient cannot make a release expensive or make it fail: ETH goes out with a fixed gas stipend and a
 *   transfer that fails is credited to the recipient, who pulls it with {claim};
 * - releases are bounded per token by a per-transaction maximum and an exact rolling 24 h window;
 * - the guardian can pause deposits and releases, only the owner unpauses;
 * - the signer set changes only with signatures of the current set over the new set, threshold and next epoch,
 *   and the hash of the set being replaced (so an update applies only over the set it was signed for).
 *
 * Not supported: rebasing tokens (the vault would lock a stale amount). Fee-on-transfer tokens are credited with
 * the amount actually received.
 */
contract BridgeVault is EIP712, Pausable, ReentrancyGuard, Ownable2Step, MemberSetValidation {
    using SafeERC20 for IERC20;
    using RateLimiter for RateLimiter.SlidingWindow;

    /// @notice Deposit and release settings of one token (`address(0)` is ETH).
    struct TokenConfig {
        bool depositsEnabled;
        uint256 maxPerTransaction;
        uint256 windowLimit;
    }

    /// @notice A token and its settings, as given to the constructor.
    struct TokenSetting {
        address token;
        bool depositsEnabled;
        uint256 maxPerTransaction;
        uint256 windowLimit;
    }

    /// @notice Largest supported signer set.
    uint256 public constant MAX_SIGNERS = 32;

    /// @notice Length of the rolling window of the per-token release limit.
    uint48 public constant LIMIT_WINDOW = 24 hours;

    /// @notice Account allowed to pause.
    address public guardian;

    /// @notice Number of deposits so far, which is also the id of the next deposit (ids start at 0).
    uint256 public depositCount;

    /// @notice Epoch of the current signer set: 0 for the constructor's set, +1 on every rotation.
    uint256 public signerEpoch;

    /// @notice Number of member signatures a release or a rotation needs.
    uint256 public threshold;

    /// @notice Gas forwarded to a recipient with released ETH: enough for a smart-contract wallet's `receive`,
    /// bounded so that a recipient cannot burn the submitter's gas.
    uint256 public constant RELEASE_GAS_STIPEND = 50_000;

    /// @notice Whether the withdrawal with key `withdrawalKey(sourceChainId, sourceBridge, withdrawalId)` has been
    /// released (see {isProcessed}).
    mapping(bytes32 withdrawalKey => bool) public processed;

    /// @notice Released amounts of `token` (`address(0)` is ETH) whose transfer to `recipient` failed; the
    /// recipient pulls them with {claim}.
    mapping(address token => mapping(address recipient => uint256 amount)) public claimable;

    /// @notice Total of {claimable} per token, still held by the vault but no longer locked for the sidechain.
    mapping(address token => uint256 amount) public totalClaimable;

    address[] private _signers;
    mapping(uint256 epoch => mapping(address account => bool)) private _isSigner;
    mapping(address token => TokenConfig) private _tokenConfigs;
    mapping(address token => RateLimiter.SlidingWindow) private _releaseWindows;

    /// @notice A deposit was locked; `token` is `address(0)` for ETH and `amount` is what the vault received.
    event Deposited(uint256 indexed depositId, address indexed token, address indexed from, address to, uint256 amount);

    /// @notice The withdrawal `withdrawalId` of the sidechain bridge `sourceBridge` on chain `sourceChainId` was
    /// released to `recipient` (paid at once, or credited to {claimable} if the transfer failed).
    event Released(
        bytes32 indexed withdrawalKey,
        uint256 indexed withdrawalId,
        address indexed token,
        address recipient,
        uint256 amount,
        uint256 epoch,
        uint256 sourceChainId,
        address sourceBridge
    );

    /// @notice Transferring a released `amount` of `token` to `recipient` failed; it is credited to {claimable}.
    event ReleaseDeferred(address indexed token, address indexed recipient, uint256 amount);

    /// @notice `recipient` pulled `amount` of `token` credited to it, paying it to `to`.
    event Claimed(address indexed token, address indexed recipient, address to, uint256 amount);

    /// @notice A new signer set became current.
    event SignerSetUpdated(uint256 indexed epoch, address[] signers, uint256 threshold);

    /// @notice The settings of `token` changed.
    event TokenConfigured(address indexed token, bool depositsEnabled, uint256 maxPerTransaction, uint256 windowLimit);

    /// @notice The guardian changed.
    event GuardianUpdated(address indexed previousGuardian, address indexed newGuardian);

    /// @dev The withdrawal was signed for signer-set `epoch`, the current one is `currentEpoch`.
    error StaleSignerEpoch(uint256 epoch, uint256 currentEpoch);
    /// @dev The withdrawal `withdrawalId` of that source bridge was already released.
    error WithdrawalAlreadyProcessed(uint256 withdrawalId);
    /// @dev The caller has nothing of `token` to claim.
    error NothingToClaim(address token);
    /// @dev The vault holds only `available` of `token` beyond what it owes claimants, less than `amount`.
    error InsufficientVaultBalance(address token, uint256 available, uint256 amount);
    /// @dev Paying a claim to `to` failed.
    error ClaimTransferFailed(address token, address to);
    /// @dev `amount` of `token` is above the per-transaction `limit`.
    error TransactionLimitExceeded(address token, uint256 amount, uint256 limit);
    /// @dev `amount` of `token` is above what the rolling window still allows.
    error WindowLimitExceeded(address token, uint256 amount, uint256 available);
    /// @dev Deposits of `token` are not enabled.
    error TokenNotAllowed(address token);
    /// @dev `token` has no code, so it cannot be an ERC-20.
    error TokenHasNoCode(address token);
    /// @dev The vault's balance of `token` did not increase.
    error NothingReceived(address token);
    /// @dev An address parameter is the zero address.
    error ZeroAddress();
    /// @dev The amount is zero.
    error ZeroAmount();
    /// @dev The recipient is the zero address.
    error InvalidRecipient();
    /// @dev `caller` is not the guardian.
    error NotGuardian(address caller);
    /// @dev `limit` does not fit the rate limiter.
    error LimitTooLarge(uint256 limit);
    /// @dev The owner cannot be renounced: nobody could unpause or configure tokens anymore.
    error RenounceOwnershipDisabled();

    modifier onlyGuardian() {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        _;
    }

    /**
     * @param initialOwner Owner (configures tokens and the guardian, unpauses).
     * @param initialGuardian Account that can pause.
     * @param initialSigners Signer set of epoch 0.
     * @param initialThreshold Signatures needed, 1 to `initialSigners.length`.
     * @param tokens Tokens to configure; `address(0)` configures ETH.
     */
    constructor(
        address initialOwner,
        address initialGuardian,
        address[] memory initialSigners,
        uint256 initialThreshold,
        TokenSetting[] memory tokens
    ) EIP712(BridgeMessages.DOMAIN_NAME, BridgeMessages.DOMAIN_VERSION) Ownable(initialOwner) {
        _setGuardian(initialGuardian);
        _validateMemberSet(initialSigners, initialThreshold, MAX_SIGNERS);
        _setSigners(initialSigners, initialThreshold, 0);
        for (uint256 i = 0; i < tokens.length; ++i) {
            TokenSetting memory s = tokens[i];
            _configureToken(s.token, s.depositsEnabled, s.maxPerTransaction, s.windowLimit);
        }
    }

    // ------------------------------------------------------------------------------------------------ deposits

    /**
     * @notice Locks `msg.value` ETH for `to` on the sidechain.
     * @param to Recipient on the sidechain.
     * @return depositId Id of this deposit.
     */
    function depositETH(address to) external payable nonReentrant whenNotPaused returns (uint256 depositId) {
        if (to == address(0)) revert InvalidRecipient();
        if (msg.value == 0) revert ZeroAmount();
        if (!_tokenConfigs[address(0)].depositsEnabled) revert TokenNotAllowed(address(0));
        return _recordDeposit(address(0), to, msg.value);
    }

    /**
     * @notice Locks `amount` of `token` (pulled from the caller, who must have approved it) for `to` on the
     * sidechain. The credited amount is the increase of the vault's balance, so fee-on-transfer tokens are
     * credited with what arrived.
     * @param token Allow-listed ERC-20 token.
     * @param amount Amount to pull from the caller.
     * @param to Recipient on the sidechain.
     * @return depositId Id of this deposit.
     */
    function depositERC20(
        address token,
        uint256 amount,
        address to
    ) external nonReentrant whenNotPaused returns (uint256 depositId) {
        if (token == address(0)) revert ZeroAddress();
        if (token.code.length == 0) revert TokenHasNoCode(token);
        if (!_tokenConfigs[token].depositsEnabled) revert TokenNotAllowed(token);
        if (to == address(0)) revert InvalidRecipient();
        if (amount == 0) revert ZeroAmount();
        uint256 balanceBefore = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 balanceAfter = IERC20(token).balanceOf(address(this));
        if (balanceAfter <= balanceBefore) revert NothingReceived(token);
        return _recordDeposit(token, to, balanceAfter - balanceBefore);
    }

    // ------------------------------------------------------------------------------------------------ releases

    /**
     * @notice Releases a withdrawal burned on the sidechain. Anyone may submit it.
     * @param w The withdrawal; `w.epoch` must be the current signer epoch.
     * @param signatures At least `threshold` EIP-712 signatures of `w` by distinct current signers, ordered by
     * strictly ascending signer address. Every signature given must be valid.
     */
    function release(Withdrawal calldata w, bytes[] calldata signatures) external nonReentrant whenNotPaused {
        bytes32 key = BridgeMessages.withdrawalKey(w.sourceChainId, w.sourceBridge, w.withdrawalId);
        if (processed[key]) revert WithdrawalAlreadyProcessed(w.withdrawalId);
        if (w.epoch != signerEpoch) revert StaleSignerEpoch(w.epoch, signerEpoch);
        if (w.recipient == address(0)) revert InvalidRecipient();
        if (w.amount == 0) revert ZeroAmount();
        _verifySignatures(_hashTypedDataV4(BridgeMessages.hashWithdrawal(w)), signatures);

        // A vault that cannot pay reverts (nothing is consumed) rather than credit an IOU: only a
        // recipient that refuses the transfer is paid later through {claim}.
        uint256 held = w.token == address(0) ? address(this).balance : IERC20(w.token).balanceOf(address(this));
        uint256 owed = totalClaimable[w.token];
        uint256 available = held > owed ? held - owed : 0;
        if (available < w.amount) revert InsufficientVaultBalance(w.token, available, w.amount);

        processed[key] = true;
        _consumeReleaseLimits(w.token, w.amount);
        emit Released(key, w.withdrawalId, w.token, w.recipient, w.amount, w.epoch, w.sourceChainId, w.sourceBridge);

        // A failed transfer never reverts the release: the recipient could otherwise block it (or make every
        // attempt cost the submitter its gas). The amount is credited and pulled later with {claim}.
        bool paid;
        if (w.token == address(0)) {
            (paid, ) = payable(w.recipient).call{value: w.amount, gas: RELEASE_GAS_STIPEND}("");
        } else {
            paid = IERC20(w.token).trySafeTransfer(w.recipient, w.amount);
        }
        if (!paid) {
            claimable[w.token][w.recipient] += w.amount;
            totalClaimable[w.token] += w.amount;
            emit ReleaseDeferred(w.token, w.recipient, w.amount);
        }
    }

    /**
     * @notice Pays the caller's {claimable} amount of `token` (released to it, but its transfer failed) to `to`,
     * forwarding all gas: the caller pays for its own recipient.
     * @param token The token (`address(0)` for ETH).
     * @param to Where to send it (the caller itself, or another address it controls).
     */
    function claim(address token, address to) external nonReentrant {
        if (to == address(0)) revert InvalidRecipient();
        _payClaim(token, msg.sender, to);
    }

    /**
     * @notice Pays `recipient`'s {claimable} amount of `token` to `recipient` itself, forwarding all gas; anyone
     * may call it (and pays the gas). For recipients that cannot call {claim} themselves, or whose `receive` needs
     * more gas than the release stipend.
     */
    function claimFor(address token, address recipient) external nonReentrant {
        _payClaim(token, recipient, recipient);
    }

    function _payClaim(address token, address recipient, address to) private {
        uint256 amount = claimable[token][recipient];
        if (amount == 0) revert NothingToClaim(token);
        claimable[token][recipient] = 0;
        totalClaimable[token] -= amount;
        emit Claimed(token, recipient, to, amount);
        if (token == address(0)) {
            (bool ok, ) = payable(to).call{value: amount}("");
            if (!ok) revert ClaimTransferFailed(token, to);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    // -------------------------------------------------------------------------------------- signer rotation

    /**
     * @notice Replaces the signer set; authorized only by signatures of the current set. Anyone may submit it.
     * Works while paused, so that a compromised set can be replaced before unpausing.
     * @param newSigners The next signer set (no zero address, no duplicates, at most `MAX_SIGNERS`).
     * @param newThreshold The next threshold, 1 to `newSigners.length`.
     * @param signatures At least `threshold` EIP-712 `SignerSetUpdate({signerSetHash}, newSigners, newThreshold,
     * signerEpoch + 1)` signatures by current signers in strictly ascending signer order.
     */
    function rotateSigners(
        address[] calldata newSigners,
        uint256 newThreshold,
        bytes[] calldata signatures
    ) external nonReentrant {
        _validateMemberSet(newSigners, newThreshold, MAX_SIGNERS);
        uint256 nextEpoch = signerEpoch + 1;
        _verifySignatures(
            _hashTypedDataV4(
                BridgeMessages.hashSignerSetUpdate(signerSetHash(), newSigners, newThreshold, nextEpoch)
            ),
            signatures
        );
        _setSigners(newSigners, newThreshold, nextEpoch);
    }

    // ----------------------------------------------------------------------------------------- administration

    /**
     * @notice Sets deposit permission and release limits of `token` (`address(0)` for ETH). Disabling deposits
     * keeps releases possible; limits of zero stop releases of the token.
     * @param token The token; must have code unless it is `address(0)`.
     * @param depositsEnabled Whether deposits are accepted.
     * @param maxPerTransaction Largest amount one release may move.
     * @param windowLimit Largest total released within any `LIMIT_WINDOW` (at most 2^208 - 1).
     */
    function setTokenConfig(
        address token,
        bool depositsEnabled,
        uint256 maxPerTransaction,
        uint256 windowLimit
    ) external onlyOwner {
        _configureToken(token, depositsEnabled, maxPerTransaction, windowLimit);
    }

    /// @notice Sets the account allowed to pause.
    function setGuardian(address newGuardian) external onlyOwner {
        _setGuardian(newGuardian);
    }

    /// @notice Stops deposits and releases. Guardian only.
    function pause() external onlyGuardian {
        _pause();
    }

    /// @notice Resumes deposits and releases. Owner only.
    function unpause() external onlyOwner {
        _unpause();
    }

    /// @notice Disabled: the vault must always have an owner.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceOwnershipDisabled();
    }

    // --------------------------------------------------------------------------------------------------- views

    /// @notice The current signer set.
    function signers() external view returns (address[] memory) {
        return _signers;
    }

    /// @notice Hash of the current signer set and threshold (`BridgeMessages.memberSetHash`), which a rotation
    /// names as the set it replaces.
    function signerSetHash() public view returns (bytes32) {
        return BridgeMessages.memberSetHash(_signers, threshold);
    }

    /// @notice Whether `account` is in the current signer set.
    function isSigner(address account) external view returns (bool) {
        return _isSigner[signerEpoch][account];
    }

    /// @notice Settings of `token` (`address(0)` for ETH).
    function tokenConfig(address token) external view returns (TokenConfig memory) {
        return _tokenConfigs[token];
    }

    /// @notice Amount of `token` released within the current rolling window, and what it still allows.
    function releaseWindow(address token) external view returns (uint256 used, uint256 available) {
        return _releaseWindows[token].state(bytes32(0));
    }

    /// @notice Whether the withdrawal `withdrawalId` of the sidechain bridge `sourceBridge` on chain
    /// `sourceChainId` has been released.
    function isProcessed(
        uint256 sourceChainId,
        address sourceBridge,
        uint256 withdrawalId
    ) external view returns (bool) {
        return processed[BridgeMessages.withdrawalKey(sourceChainId, sourceBridge, withdrawalId)];
    }

    /// @notice EIP-712 domain separator of this vault.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Digest that signers sign for `w`.
    function withdrawalDigest(Withdrawal calldata w) external view returns (bytes32) {
        return _hashTypedDataV4(BridgeMessages.hashWithdrawal(w));
    }

    /// @notice Digest that the signers of the set with hash `previousSetHash` sign to rotate to (`newSigners`,
    /// `newThreshold`) as epoch `epoch`.
    function signerSetUpdateDigest(
        bytes32 previousSetHash,
        address[] calldata newSigners,
        uint256 newThreshold,
        uint256 epoch
    ) external view returns (bytes32) {
        return _hashTypedDataV4(BridgeMessages.hashSignerSetUpdate(previousSetHash, newSigners, newThreshold, epoch));
    }

    // ------------------------------------------------------------------------------------------------ internal

    function _recordDeposit(address token, address to, uint256 amount) private returns (uint256 depositId) {
        depositId = depositCount++;
        emit Deposited(depositId, token, msg.sender, to, amount);
    }

    function _verifySignatures(bytes32 digest, bytes[] calldata signatures) private view {
        _verifyQuorum(digest, signatures, threshold, _isCurrentSigner);
    }

    function _isCurrentSigner(address account) private view returns (bool) {
        return _isSigner[signerEpoch][account];
    }

    function _consumeReleaseLimits(address token, uint256 amount) private {
        uint256 maxPerTransaction = _tokenConfigs[token].maxPerTransaction;
        if (amount > maxPerTransaction) revert TransactionLimitExceeded(token, amount, maxPerTransaction);
        RateLimiter.SlidingWindow storage window = _releaseWindows[token];
        (, uint256 available) = window.state(bytes32(0));
        if (amount > available) revert WindowLimitExceeded(token, amount, available);
        window.consume(bytes32(0), amount);
    }

    function _setSigners(address[] memory newSigners, uint256 newThreshold, uint256 epoch) private {
        // Membership is keyed by epoch, so the previous set stops counting without being cleared.
        for (uint256 i = 0; i < newSigners.length; ++i) {
            _isSigner[epoch][newSigners[i]] = true;
        }
        _signers = newSigners;
        threshold = newThreshold;
        signerEpoch = epoch;
        emit SignerSetUpdated(epoch, newSigners, newThreshold);
    }

    function _configureToken(
        address token,
        bool depositsEnabled,
        uint256 maxPerTransaction,
        uint256 windowLimit
    ) private {
        if (token != address(0) && token.code.length == 0) revert TokenHasNoCode(token);
        if (windowLimit > type(uint208).max) revert LimitTooLarge(windowLimit);
        _tokenConfigs[token] = TokenConfig(depositsEnabled, maxPerTransaction, windowLimit);
        // History is kept: releases already made keep counting against the new limit.
        _releaseWindows[token].updateSettings(LIMIT_WINDOW, uint208(windowLimit));
        emit TokenConfigured(token, depositsEnabled, maxPerTransaction, windowLimit);
    }

    function _setGuardian(address newGuardian) private {
        if (newGuardian == address(0)) revert ZeroAddress();
        emit GuardianUpdated(guardian, newGuardian);
        guardian = newGuardian;
    }
}
