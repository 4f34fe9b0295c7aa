package import AdPilotCore
import AdPilotSystem

/// Finds frozen policies by id in the configured directories (first match wins).
package enum PolicyStore {
    package static func find(_ id: PolicyID, in dirs: [String]) -> String? {
        for dir in dirs {
            let path = dir + "/" + id.description
            if PosixFileIO().exists(path + "/manifest.json") { return path }
        }
        return nil
    }
}
