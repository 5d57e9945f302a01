import { createHash } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { AppError, type FieldProblem } from '../../core/errors.ts';
import type { PayoutMethod } from './payouts.schema.ts';

/**
 * Where a payout goes, checked before any money moves: an IBAN by its mod-97 checksum, a US
 * routing number by its ABA checksum, a UK sort code and account number by their shape, a PayPal
 * e-mail address, a crypto address by the format of its network with its checksum (Base58Check,
 * bech32/bech32m, EIP-55 for a mixed-case EVM address).
 */

export const cryptoNetworks = ['bitcoin', 'ethereum', 'polygon', 'solana', 'tron'] as const;
export type CryptoNetwork = (typeof cryptoNetworks)[number];

export interface BankInput {
  accountHolderName: string;
  iban?: string | undefined;
  bic?: string | undefined;
  accountNumber?: string | undefined;
  routingNumber?: string | undefined;
  sortCode?: string | undefined;
}

export type DestinationInput =
  | { method: 'bank'; bank: BankInput }
  | { method: 'paypal'; paypalEmail: string }
  | { method: 'crypto'; crypto: { network: CryptoNetwork; address: string } };

/** Normalised destination, in the payouts row's columns. */
export interface Destination {
  method: PayoutMethod;
  /** The provider rail (the marketplace's `payout_method`). */
  payoutMethod: 'stripe' | 'paypal' | 'crypto';
  bankDetails: Record<string, string> | null;
  paypalEmail: string | null;
  cryptoAddress: string | null;
  cryptoNetwork: CryptoNetwork | null;
}

/** IBAN length by country (SWIFT IBAN registry). */
const ibanLengths: Record<string, number> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MR: 27,
  MT: 31,
  MU: 30,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SC: 31,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
};

/** The IBAN without spaces in upper case, or why it is not one. */
export function checkIban(raw: string): { ok: true; value: string } | { ok: false; message: string } {
  const v = raw.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(v)) {
    return { ok: false, message: 'not an IBAN (two letters, two check digits, then letters and digits)' };
  }
  const len = ibanLengths[v.slice(0, 2)];
  if (!len) return { ok: false, message: `${v.slice(0, 2)} does not use IBANs` };
  if (v.length !== len) {
    return { ok: false, message: `an IBAN of ${v.slice(0, 2)} has ${len} characters, not ${v.length}` };
  }
  const rearranged = v.slice(4) + v.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const n = ch >= 'A' ? ch.charCodeAt(0) - 55 : ch.charCodeAt(0) - 48;
    rem = n >= 10 ? (rem * 100 + n) % 97 : (rem * 10 + n) % 97;
  }
  return rem === 1
    ? { ok: true, value: v }
    : { ok: false, message: 'IBAN check digits do not match (mod 97)' };
}

/** A US ABA routing number: nine digits whose weighted sum (3, 7, 1) is a multiple of 10. */
export function checkRoutingNumber(raw: string): boolean {
  if (!/^\d{9}$/.test(raw)) return false;
  const d = [...raw].map(Number);
  return (3 * (d[0]! + d[3]! + d[6]!) + 7 * (d[1]! + d[4]! + d[7]!) + (d[2]! + d[5]! + d[8]!)) % 10 === 0;
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58Decode(s: string): Uint8Array | null {
  let n = 0n;
  for (const ch of s) {
    const i = B58.indexOf(ch);
    if (i < 0) return null;
    n = n * 58n + BigInt(i);
  }
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n % 256n));
    n /= 256n;
  }
  for (const ch of s) {
    if (ch !== '1') break;
    bytes.unshift(0);
  }
  return Uint8Array.from(bytes);
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** Base58Check: payload then four bytes of double SHA-256. Answers the payload. */
function base58Check(s: string): Uint8Array | null {
  const b = base58Decode(s);
  if (!b || b.length < 5) return null;
  const payload = b.subarray(0, -4);
  const sum = sha256(sha256(payload)).subarray(0, 4);
  return Buffer.from(b.subarray(-4)).equals(sum) ? payload : null;
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function polymod(values: number[]): number {
  const G = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= G[i]!;
  }
  return chk >>> 0;
}

/** A segwit address of `hrp` (BIP 173 bech32 for version 0, BIP 350 bech32m for 1 and up). */
function checkSegwit(address: string, hrp: string): boolean {
  if (address !== address.toLowerCase() && address !== address.toUpperCase()) return false;
  const a = address.toLowerCase();
  const sep = a.lastIndexOf('1');
  if (a.slice(0, sep) !== hrp || a.length > 90 || a.length - sep - 1 < 7) return false;
  const data: number[] = [];
  for (const ch of a.slice(sep + 1)) {
    const i = BECH32.indexOf(ch);
    if (i < 0) return false;
    data.push(i);
  }
  const expanded = [
    ...[...hrp].map((c) => c.charCodeAt(0) >> 5),
    0,
    ...[...hrp].map((c) => c.charCodeAt(0) & 31),
    ...data,
  ];
  const version = data[0]!;
  const constant = version === 0 ? 1 : 0x2bc830a3;
  if (version > 16 || polymod(expanded) !== constant) return false;
  // The witness program: 5-bit groups back to bytes, no leftover bits.
  let acc = 0;
  let bits = 0;
  const program: number[] = [];
  for (const v of data.slice(1, -6)) {
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      program.push((acc >> bits) & 0xff);
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return false;
  if (program.length < 2 || program.length > 40) return false;
  return version !== 0 || program.length === 20 || program.length === 32;
}

const EVM_RE = /^0x[0-9a-fA-F]{40}$/;

/**
 * EIP-55: the address's hex digits with each letter upper-cased where the matching nibble of
 * Keccak-256 (the original Keccak padding, not NIST SHA3-256) of the lower-case hex is 8 or more.
 * `address` must be 0x and 40 hex digits.
 */
export function toChecksumAddress(address: string): string {
  const hex = address.slice(2).toLowerCase();
  const hash = keccak_256(new TextEncoder().encode(hex));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0x0f;
    out += nibble >= 8 ? hex[i]!.toUpperCase() : hex[i]!;
  }
  return out;
}

/** Why `address` is not an address of `network`, or null when it is. */
export function cryptoAddressProblem(network: CryptoNetwork, address: string): string | null {
  switch (network) {
    case 'bitcoin': {
      if (/^(bc1|BC1)/.test(address)) {
        return checkSegwit(address, 'bc') ? null : 'not a valid bech32 Bitcoin address (bc1…)';
      }
      if (/^[13]/.test(address)) {
        const p = base58Check(address);
        return p && p.length === 21 && (p[0] === 0x00 || p[0] === 0x05)
          ? null
          : 'not a valid Base58Check Bitcoin address (1… or 3…)';
      }
      return 'a Bitcoin address starts with bc1, 1 or 3';
    }
    case 'ethereum':
    case 'polygon': {
      if (!EVM_RE.test(address)) return 'an EVM address is 0x followed by 40 hexadecimal digits';
      // One case carries no checksum (EIP-55 accepts it); mixed case is the checksum, and a
      // mistyped digit shows as a wrong case somewhere.
      const hex = address.slice(2);
      if (hex === hex.toLowerCase() || hex === hex.toUpperCase()) return null;
      return toChecksumAddress(address) === address
        ? null
        : 'the mixed-case EIP-55 checksum of this address does not match: check it for a mistyped character (or give it in one case)';
    }
    case 'solana': {
      const b = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(address) ? base58Decode(address) : null;
      return b && b.length === 32 ? null : 'a Solana address is a Base58 public key of 32 bytes';
    }
    case 'tron': {
      const p = /^T/.test(address) ? base58Check(address) : null;
      return p && p.length === 21 && p[0] === 0x41 ? null : 'not a valid Tron address (T…, Base58Check)';
    }
  }
}

const EMAIL_RE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Checks and normalises a destination; refuses with 400 naming every bad field. */
export function normalizeDestination(input: DestinationInput, at = 'body'): Destination {
  const problems: FieldProblem[] = [];
  const none = { bankDetails: null, paypalEmail: null, cryptoAddress: null, cryptoNetwork: null };
  let out: Destination | null = null;
  switch (input.method) {
    case 'bank': {
      const b = input.bank;
      const path = `${at}.bank`;
      const holder = b.accountHolderName.trim();
      if (!holder) problems.push({ path: `${path}.accountHolderName`, message: 'required' });
      const details: Record<string, string> = { accountHolderName: holder };
      if (b.iban !== undefined) {
        if (b.accountNumber !== undefined || b.routingNumber !== undefined || b.sortCode !== undefined) {
          problems.push({
            path: `${path}.iban`,
            message: 'give either an IBAN or an account number with a routing number or sort code, not both',
          });
        }
        const r = checkIban(b.iban);
        if (!r.ok) problems.push({ path: `${path}.iban`, message: r.message });
        else details.iban = r.value;
        if (b.bic !== undefined) {
          const bic = b.bic.replace(/\s/g, '').toUpperCase();
          if (!/^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(bic)) {
            problems.push({ path: `${path}.bic`, message: 'a BIC has 8 or 11 characters' });
          } else if (r.ok && bic.slice(4, 6) !== r.value.slice(0, 2)) {
            problems.push({ path: `${path}.bic`, message: 'the BIC is of another country than the IBAN' });
          } else details.bic = bic;
        }
      } else if (b.accountNumber !== undefined) {
        const account = b.accountNumber.replace(/[\s-]/g, '');
        if ((b.routingNumber === undefined) === (b.sortCode === undefined)) {
          problems.push({
            path: `${path}.routingNumber`,
            message: 'an account number needs a routing number (US) or a sort code (UK)',
          });
        } else if (b.routingNumber !== undefined) {
          if (!checkRoutingNumber(b.routingNumber)) {
            problems.push({
              path: `${path}.routingNumber`,
              message: 'not a valid ABA routing number (9 digits, checksum)',
            });
          }
          if (!/^\d{4,17}$/.test(account)) {
            problems.push({
              path: `${path}.accountNumber`,
              message: 'a US account number has 4 to 17 digits',
            });
          }
          details.routingNumber = b.routingNumber;
        } else {
          const sort = b.sortCode!.replace(/[\s-]/g, '');
          if (!/^\d{6}$/.test(sort)) {
            problems.push({ path: `${path}.sortCode`, message: 'a sort code has 6 digits' });
          }
          if (!/^\d{8}$/.test(account)) {
            problems.push({ path: `${path}.accountNumber`, message: 'a UK account number has 8 digits' });
          }
          details.sortCode = sort;
        }
        details.accountNumber = account;
      } else {
        problems.push({
          path: `${path}.iban`,
          message: 'give an IBAN, or an account number with a routing number or sort code',
        });
      }
      out = { method: 'bank', payoutMethod: 'stripe', ...none, bankDetails: details };
      break;
    }
    case 'paypal': {
      const email = input.paypalEmail.trim().toLowerCase();
      if (!EMAIL_RE.test(email) || email.length > 255) {
        problems.push({ path: `${at}.paypalEmail`, message: 'not an e-mail address' });
      }
      out = { method: 'paypal', payoutMethod: 'paypal', ...none, paypalEmail: email };
      break;
    }
    case 'crypto': {
      const address = input.crypto.address.trim();
      const problem = cryptoAddressProblem(input.crypto.network, address);
      if (problem) problems.push({ path: `${at}.crypto.address`, message: problem });
      const network = input.crypto.network;
      out = {
        method: 'crypto',
        payoutMethod: 'crypto',
        ...none,
        // EVM addresses are kept in their checksummed form, so what is shown can be checked.
        cryptoAddress:
          !problem && (network === 'ethereum' || network === 'polygon')
            ? toChecksumAddress(address)
            : address,
        cryptoNetwork: input.crypto.network,
      };
      break;
    }
  }
  if (problems.length) {
    throw new AppError(
      'bad_request',
      `Invalid payout destination: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { code: 'invalid_destination', fields: problems },
    );
  }
  return out;
}

/** What people see of a destination: enough to recognise it, not enough to reuse it. */
export function maskDestination(d: {
  method: PayoutMethod;
  bankDetails: Record<string, string> | null;
  paypalEmail: string | null;
  cryptoAddress: string | null;
  cryptoNetwork: string | null;
}): string {
  switch (d.method) {
    case 'bank': {
      const b = d.bankDetails ?? {};
      if (b.iban) return `${b.iban.slice(0, 2)}•• •••• ${b.iban.slice(-4)}`;
      return `${b.routingNumber ? `routing ${b.routingNumber}` : `sort code ${b.sortCode ?? ''}`}, account ••••${(b.accountNumber ?? '').slice(-4)}`;
    }
    case 'paypal':
      return d.paypalEmail ?? '';
    case 'crypto':
      return `${d.cryptoNetwork} ${d.cryptoAddress?.slice(0, 6)}…${d.cryptoAddress?.slice(-4)}`;
  }
}
