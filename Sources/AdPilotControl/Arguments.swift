#if canImport(Glibc)
import Glibc
#endif

/// A command-line problem: exit 2 with a message that says what and what to do.
package struct UsageError: Error {
    package let message: String
    package init(message: String) { self.message = message }
}

/// Options every verb accepts, before or after it (docs/operations.md), with their environment
/// fallbacks (docs/operations.md).
package struct GlobalOptions: Sendable {
    package static let stateDirDefault = "/var/lib/adpilot"
    package static let socketDefault = "/run/adpilot/control.sock"
    package static let configDefault = "/etc/adpilot/adpilot.json"

    package var stateDir = env("ADPILOT_STATE_DIR") ?? GlobalOptions.stateDirDefault
    package var socket = env("ADPILOT_SOCKET") ?? GlobalOptions.socketDefault
    package var config = GlobalOptions.configDefault
    package var credentialsDir = env("CREDENTIALS_DIRECTORY")
    /// Whether --config was given (the daemon's --demo refuses to mix with it).
    package var configGiven = false

    package init() {}

    package var journalDir: String { stateDir + "/journal" }

    package static func env(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        let s = String(cString: v)
        return s.isEmpty ? nil : s
    }
}

/// The verb's own arguments after global options are taken out. Flags may be given as
/// `--flag value` or `--flag=value`.
package struct Arguments {
    package private(set) var tokens: [String]

    /// Splits global options (anywhere) from the rest.
    package static func parse(_ raw: [String]) throws(UsageError) -> (GlobalOptions, Arguments) {
        var global = GlobalOptions()
        var rest: [String] = []
        var i = 0
        while i < raw.count {
            let (name, inline) = split(raw[i])
            let setters: [String: (inout GlobalOptions, String) -> Void] = [
                "--state-dir": { $0.stateDir = $1 }, "--socket": { $0.socket = $1 },
                "--config": { $0.config = $1; $0.configGiven = true }, "--credentials-dir": { $0.credentialsDir = $1 },
            ]
            if let set = setters[name] {
                let value: String
                if let inline {
                    value = inline
                } else {
                    guard i + 1 < raw.count else { throw UsageError(message: "\(name) needs a value") }
                    value = raw[i + 1]
                    i += 1
                }
                guard !value.isEmpty else { throw UsageError(message: "\(name) needs a non-empty value") }
                set(&global, value)
            } else {
                rest.append(raw[i])
            }
            i += 1
        }
        return (global, Arguments(tokens: rest))
    }

    private static func split(_ token: String) -> (String, String?) {
        guard token.hasPrefix("--"), let eq = token.firstIndex(of: "=") else { return (token, nil) }
        return (String(token[..<eq]), String(token[token.index(after: eq)...]))
    }

    package var isEmpty: Bool { tokens.isEmpty }

    package mutating func popVerb() -> String? {
        guard let first = tokens.first, !first.hasPrefix("-") else { return nil }
        tokens.removeFirst()
        return first
    }

    /// Removes a boolean flag; true when it was present.
    package mutating func flag(_ names: String...) -> Bool {
        var found = false
        tokens.removeAll { t in
            if names.contains(t) { found = true; return true }
            return false
        }
        return found
    }

    /// Removes `--name value` / `--name=value`; nil when absent, the last when repeated.
    package mutating func value(_ names: String...) throws(UsageError) -> String? {
        try values(names).last
    }

    /// Removes every `--name value` / `--name=value`, in order (a repeatable option).
    package mutating func values(_ names: String...) throws(UsageError) -> [String] { try values(names) }

    private mutating func values(_ names: [String]) throws(UsageError) -> [String] {
        var i = 0
        var result: [String] = []
        while i < tokens.count {
            let (name, inline) = Arguments.split(tokens[i])
            if names.contains(name) {
                if let inline {
                    result.append(inline)
                    tokens.remove(at: i)
                } else {
                    guard i + 1 < tokens.count else { throw UsageError(message: "\(name) needs a value") }
                    result.append(tokens[i + 1])
                    tokens.removeSubrange(i...(i + 1))
                }
                continue
            }
            i += 1
        }
        return result
    }

    /// Positional arguments left; anything that looks like a flag is an error.
    package func positionals(verb: String) throws(UsageError) -> [String] {
        if let unknown = tokens.first(where: { $0.hasPrefix("-") && $0 != "-" }) {
            throw UsageError(message: "\(verb): unknown option \(unknown); see adpilotctl --help")
        }
        return tokens
    }
}
