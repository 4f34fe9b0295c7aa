import Foundation

/// Where `adpilotd --demo` and `adpilotctl` find the shipped policies without
/// `--policy-dir`: next to the running binary, wherever it was built or installed.
package enum ShippedPolicies {
    /// Where the Debian package and `make install` with the default prefix put them.
    package static let systemDirectory = "/usr/share/adpilot/policies"

    /// Directories that exist, in the order searched: the install layout
    /// (`<prefix>/bin/adpilotd` beside `<prefix>/share/adpilot/policies`), then a `Policies`
    /// directory in the nearest source tree above the binary (`.build/<triple>/debug/adpilotd`
    /// in a checkout). `systemDirectory` is in the demo config already.
    package static func directories(executable: String = "/proc/self/exe") -> [String] {
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        var found: [String] = []
        let installed = binary.deletingLastPathComponent().appendingPathComponent("share/adpilot/policies").path
        if holdsPolicies(installed) { found.append(installed) }
        var dir = binary
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent("Policies").path
            if holdsPolicies(candidate) {
                found.append(candidate)
                break
            }
            dir = dir.deletingLastPathComponent()
        }
        return found.filter { $0 != systemDirectory }
    }

    /// A directory with at least one `NAME@VERSION` entry.
    static func holdsPolicies(_ path: String) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return entries.contains { $0.contains("@") }
    }
}
