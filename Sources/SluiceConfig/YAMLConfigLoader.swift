import Foundation
import Yams

/// Reads a YAML config file into a `ConfigFile`, reporting every mistake as `file:line:column: message`.
///
/// The layout follows file.d's: optional top-level `settings`, and `pipelines`, each with optional
/// `settings`, `input` (one mapping or a sequence of them), optional ordered `actions`, and one `output`.
/// Which params a plugin accepts is checked later, by the plugin, using the locations kept here.
public enum YAMLConfigLoader {
    /// Config files are written by hand; anything larger is a wrong path, not a config.
    static let maxConfigFileBytes = 16 << 20

    public static func load(path: String) throws(ConfigError) -> ConfigFile {
        try parse(readText(path: path), file: path)
    }

    /// `file` is only used to name locations in errors and specs.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigFile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw configError(from: error, file: file)
        } catch {
            throw ConfigError("cannot parse config file '\(file)': \(error)")
        }
        return try YAMLNodeReader(file: file).configFile(from: root)
    }

    private static func readText(path: String) throws(ConfigError) -> String {
        func failure(_ reason: String) -> ConfigError {
            ConfigError("cannot read config file '\(path)': \(reason)")
        }
        func systemFailure() -> ConfigError {
            failure(String(cString: strerror(errno)))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw systemFailure() }
        defer { close(fd) }
        let chunkBytes = 64 << 10
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw systemFailure()
            }
            bytes.append(contentsOf: chunk[..<count])
            guard bytes.count <= maxConfigFileBytes else {
                throw failure("larger than \(maxConfigFileBytes >> 20) MiB; is this the config file?")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("not valid UTF-8; save it as UTF-8")
        }
        return text
    }

    /// Reuses Yams' own position, so the user sees where libyaml stopped.
    private static func configError(from error: YamlError, file: String) -> ConfigError {
        func location(_ mark: Mark) -> SourceLocation {
            SourceLocation(file: file, line: mark.line, column: mark.column)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "not valid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return ConfigError(message, location: location(mark))
        case .reader(let problem, let offset, _, let yaml):
            let position = offset.map { sourceLocation(ofCharacterOffset: $0, in: yaml, file: file) }
            return ConfigError("not valid YAML: \(problem)", location: position)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ConfigError(
                "duplicate key \(keys) in this mapping: each key and each pipeline name may appear once; "
                    + "give a key several values as a list, key: [a, b]",
                location: location(context.mark))
        default:
            return ConfigError("cannot parse config file '\(file)': \(error)")
        }
    }

    /// Yams gives reader errors as a Character offset; users need line and column.
    private static func sourceLocation(ofCharacterOffset offset: Int, in text: String, file: String) -> SourceLocation {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}
