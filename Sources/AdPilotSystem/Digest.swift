internal import CCrypto

/// A SHA-256 digest: 32 bytes, shown as 64 lowercase hex characters.
package struct SHA256Digest: Hashable, Sendable, CustomStringConvertible {
    package static let byteCount = 32
    package let bytes: [UInt8]

    package init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    package init?(hex: String) {
        guard hex.utf8.count == Self.byteCount * 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(Self.byteCount)
        var high: UInt8? = nil
        for c in hex.utf8 {
            guard let nibble = Hex.nibble(c) else { return nil }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        self.bytes = out
    }

    package var hex: String { Hex.encode(bytes) }
    /// The 64 lowercase hex characters as ASCII bytes.
    package var hexBytes: [UInt8] { Hex.encodeBytes(bytes) }

    package static let zero = SHA256Digest(bytes: [UInt8](repeating: 0, count: 32))!
    package var description: String { hex }
}

package enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        String(decoding: encodeBytes(bytes), as: UTF8.self)
    }

    static func encodeBytes(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return out
    }

    /// Lowercase hex only: a digest has exactly one spelling.
    package static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

/// SHA-256 and HMAC-SHA256 through OpenSSL's libcrypto. AdPilot never implements a
/// cryptographic primitive itself; this is the one place that calls one.
package enum Crypto {
    package static func sha256<Bytes: Collection<UInt8>>(_ data: Bytes) -> SHA256Digest {
        var out = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        let ok: Bool = data.withContiguousStorageIfAvailable { buf in
            SHA256(buf.baseAddress, buf.count, &out) != nil
        } ?? Array(data).withUnsafeBufferPointer { buf in
            SHA256(buf.baseAddress, buf.count, &out) != nil
        }
        // SHA256() only fails on a null output pointer, which cannot happen here.
        precondition(ok, "libcrypto SHA256 failed")
        return SHA256Digest(bytes: out)!
    }

    /// Streaming SHA-256 for inputs too large to hold at once.
    package struct SHA256Hasher: ~Copyable {
        private let ctx: OpaquePointer

        package init() {
            guard let ctx = EVP_MD_CTX_new() else { fatalError("libcrypto: out of memory") }
            precondition(EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1, "EVP_DigestInit_ex failed")
            self.ctx = ctx
        }

        deinit { EVP_MD_CTX_free(ctx) }

        package mutating func update(_ buffer: UnsafeRawBufferPointer) {
            precondition(EVP_DigestUpdate(ctx, buffer.baseAddress, buffer.count) == 1)
        }

        package consuming func finalize() -> SHA256Digest {
            var out = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
            var length: UInt32 = 0
            precondition(EVP_DigestFinal_ex(ctx, &out, &length) == 1 && length == 32)
            return SHA256Digest(bytes: out)!
        }
    }

    /// A reusable SHA-256 context for hashing millions of small buffers: the algorithm is
    /// fetched once (OpenSSL 3's one-shot `SHA256()` fetches, locks and allocates on every
    /// call), and nothing is allocated per hash. Not thread-safe: one per thread.
    package final class SHA256Context {
        private let ctx: OpaquePointer
        private let md: OpaquePointer

        package init() {
            guard let md = EVP_MD_fetch(nil, "SHA256", nil), let ctx = EVP_MD_CTX_new() else {
                fatalError("libcrypto: SHA256 unavailable or out of memory")
            }
            self.md = md
            self.ctx = ctx
        }

        deinit {
            EVP_MD_CTX_free(ctx)
            EVP_MD_free(md)
        }

        /// SHA-256 of `data` into the 32 bytes at `out`.
        package func hash(_ data: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) {
            var length: UInt32 = 0
            let ok = EVP_DigestInit_ex2(ctx, md, nil) == 1 && EVP_DigestUpdate(ctx, data.baseAddress, data.count) == 1
                && EVP_DigestFinal_ex(ctx, out, &length) == 1
            precondition(ok && length == 32, "libcrypto SHA-256 failed")
        }
    }

    /// HMAC-SHA256 of `data` under `key`.
    package static func hmacSHA256(key: [UInt8], data: [UInt8]) -> SHA256Digest {
        var out = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, &out, &length)
            }
        }
        precondition(result != nil && length == 32, "libcrypto HMAC failed")
        return SHA256Digest(bytes: out)!
    }

    /// Constant-time comparison, for checking MACs.
    package static func constantTimeEqual(_ a: SHA256Digest, _ b: SHA256Digest) -> Bool {
        a.bytes.withUnsafeBytes { x in
            b.bytes.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, 32) == 0 }
        }
    }
}
