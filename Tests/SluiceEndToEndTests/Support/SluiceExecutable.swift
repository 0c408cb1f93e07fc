import Foundation

/// Finds the `sluice` executable that `swift build` / `swift test` put in the same build
/// directory as the test bundle, or the one named by `SLUICE_BIN`.
enum SluiceExecutable {
    static let overrideVariable = "SLUICE_BIN"

    struct NotFound: Error, CustomStringConvertible {
        let description: String
    }

    static func url() throws -> URL {
        let fileManager = FileManager.default
        if let override = ProcessInfo.processInfo.environment[overrideVariable], !override.isEmpty {
            guard fileManager.isExecutableFile(atPath: override) else {
                throw NotFound(description: "\(overrideVariable)=\(override) is not an executable file")
            }
            return URL(fileURLWithPath: override)
        }
        var searched: [String] = []
        for start in bundleLocations() {
            // The test runner may sit inside a bundle (X.xctest/Contents/MacOS/X on macOS):
            // climb a few levels to the build directory, never further.
            var directory = start.deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("sluice")
                var isDirectory: ObjCBool = false
                if fileManager.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                   fileManager.isExecutableFile(atPath: candidate.path) {
                    return candidate
                }
                if !searched.contains(directory.path) { searched.append(directory.path) }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw NotFound(description: """
            the sluice executable is not next to the test bundle (searched: \(searched.joined(separator: ", "))). \
            Build it into the same build directory first (`swift build` with the same --scratch-path and \
            configuration as `swift test`), or set \(overrideVariable)=/path/to/sluice.
            """)
    }

    /// Where the running test code lives: the runner executable and any loaded .xctest bundle.
    private static func bundleLocations() -> [URL] {
        var locations: [URL] = []
        if let runner = ProcessInfo.processInfo.arguments.first, !runner.isEmpty {
            locations.append(URL(fileURLWithPath: runner).standardizedFileURL)
        }
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            locations.append(URL(fileURLWithPath: path))
        }
        if let path = Bundle.main.executablePath {
            locations.append(URL(fileURLWithPath: path))
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            locations.append(bundle.bundleURL)
        }
        return locations
    }
}
