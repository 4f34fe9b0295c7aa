internal import CCrypto
internal import CCurl

/// Versions of the system libraries this binary is running against, for `--version`.
package enum LinkedLibraries {
    package static var curl: String {
        guard let info = curl_version_info(CURLVERSION_TENTH), let v = info.pointee.version else {
            return "unknown"
        }
        return String(cString: v)
    }

    package static var openSSL: String {
        guard let v = OpenSSL_version(Int32(OPENSSL_VERSION)) else { return "unknown" }
        return String(cString: v)
    }

    package static var summary: String {
        "libcurl \(curl), \(openSSL), libsystemd (sd_notify)"
    }
}
