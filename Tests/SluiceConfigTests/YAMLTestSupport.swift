@testable import SluiceConfig

/// Every YAML test names its text `sluice.yaml`, so expected errors read like what a user sees.
let configFileName = "sluice.yaml"

func at(_ line: Int, _ column: Int) -> SluiceConfig.SourceLocation {
    SluiceConfig.SourceLocation(file: configFileName, line: line, column: column)
}

func parseConfig(_ yaml: String) throws(ConfigError) -> ConfigFile {
    try YAMLConfigLoader.parse(yaml, file: configFileName)
}

/// The error a config is rejected with, as the user sees it.
func rejection(_ yaml: String) -> String? {
    do {
        _ = try parseConfig(yaml)
        return nil
    } catch {
        return error.description
    }
}
