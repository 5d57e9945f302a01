import { keccak_256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import { cryptoAddressProblem, normalizeDestination, toChecksumAddress } from './destinations.ts';

/** The test vectors of EIP-55 (eips.ethereum.org/EIPS/eip-55). */
const vectors = {
  allCaps: ['0x52908400098527886E0F7030069857D2E4169EE7', '0x8617E340B3D01FA5F11F306F4090FD50E238070D'],
  allLower: ['0xde709f2102306220921060314715629080e2fb77', '0x27b1fdb04752bbc536007a920d24acb045561c26'],
  normal: [
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
    '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
  ],
};

/** The address with the case of its first letter (after 0x) flipped. */
const flipOneLetter = (a: string) => {
  const i = [...a].findIndex((c, n) => n > 1 && /[a-fA-F]/.test(c));
  const c = a[i]!;
  return a.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + a.slice(i + 1);
};

const evm = (address: string, network: 'ethereum' | 'polygon' = 'ethereum') =>
  normalizeDestination({ method: 'crypto', crypto: { network, address } });

describe('EIP-55 checksums of EVM addresses', () => {
  it('hashes with Keccak-256, not NIST SHA3-256', () => {
    expect(Buffer.from(keccak_256(new Uint8Array())).toString('hex')).toBe(
      'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
  });

  it('accepts every test vector of the EIP, on Ethereum and Polygon', () => {
    for (const a of [...vectors.allCaps, ...vectors.allLower, ...vectors.normal]) {
      expect(cryptoAddressProblem('ethereum', a), a).toBeNull();
      expect(cryptoAddressProblem('polygon', a), a).toBeNull();
    }
  });

  it('computes the checksummed form of the mixed-case vectors from any case', () => {
    // Every vector is its own checksummed form (the one-case ones happen to need one case).
    for (const a of [...vectors.allCaps, ...vectors.allLower, ...vectors.normal]) {
      expect(toChecksumAddress(a.toLowerCase())).toBe(a);
      expect(toChecksumAddress(`0x${a.slice(2).toUpperCase()}`)).toBe(a);
    }
  });

  it('refuses a mixed-case address whose checksum does not match, with a 400 naming the field', () => {
    for (const a of [...vectors.normal, ...vectors.allCaps]) {
      const wrong = flipOneLetter(a);
      expect(wrong).not.toBe(a);
      expect(cryptoAddressProblem('ethereum', wrong), wrong).toMatch(/EIP-55 checksum/);
      expect(cryptoAddressProblem('polygon', wrong), wrong).toMatch(/EIP-55 checksum/);
      expect(() => evm(wrong)).toThrowError(
        expect.objectContaining({
          kind: 'bad_request',
          details: expect.objectContaining({
            code: 'invalid_destination',
            fields: [{ path: 'body.crypto.address', message: expect.stringMatching(/EIP-55/) as string }],
          }) as unknown,
        }),
      );
    }
    // A mistyped digit in a checksummed address: the case pattern no longer fits.
    const typo = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAee';
    expect(cryptoAddressProblem('ethereum', typo)).toMatch(/EIP-55/);
    // The shape is still checked first.
    expect(cryptoAddressProblem('ethereum', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA')).toMatch(
      /40 hexadecimal/,
    );
  });

  it('stores one-case addresses in their checksummed form, and leaves other networks as given', () => {
    expect(evm(vectors.normal[0]!.toLowerCase()).cryptoAddress).toBe(vectors.normal[0]);
    expect(evm(`0x${vectors.normal[1]!.slice(2).toUpperCase()}`, 'polygon').cryptoAddress).toBe(
      vectors.normal[1],
    );
    expect(evm(vectors.allCaps[0]!).cryptoAddress).toBe(toChecksumAddress(vectors.allCaps[0]!));
    expect(evm(`  ${vectors.normal[2]!}  `).cryptoAddress).toBe(vectors.normal[2]);
    const btc = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq';
    expect(
      normalizeDestination({ method: 'crypto', crypto: { network: 'bitcoin', address: btc } }).cryptoAddress,
    ).toBe(btc);
  });
});
