/**
 * The ERC-20 both benchmarks transfer: OpenZeppelin's, minted to holders in the constructor
 * or, for more holders than one transaction's gas cap allows (EIP-7825), by anyone through
 * `mint` (a benchmark token), compiled with the solc-js the tests use.
 */
import { compileSolidity } from '../support/solc.ts'

const TOKEN_SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
contract BenchToken is ERC20 {
    constructor(address[] memory holders, uint256 amount) ERC20("Bench", "BNCH") {
        mint(holders, amount);
    }
    function mint(address[] memory holders, uint256 amount) public {
        for (uint256 i = 0; i < holders.length; i++) _mint(holders[i], amount);
    }
}`

export function compileBenchToken() {
  return compileSolidity({ 'BenchToken.sol': TOKEN_SOURCE }).BenchToken!
}
