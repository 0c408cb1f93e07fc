import Foundation
import Testing

@testable import SluiceCore

/// A fresh directory holding empty files with the given names; removed by the caller.
private func directory(with names: [String]) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-file-input-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    for name in names { _ = FileManager.default.createFile(atPath: url.appendingPathComponent(name).path, contents: Data()) }
    return url
}

private func fileInput(_ pairs: (String, String)...) throws(PluginArgumentError) -> FileInput {
    try FileInput(PluginArguments(plugin: "file", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

@Suite struct FileInputTests {
    @Test func aGlobExpandsToTheMatchingFilesSorted() throws {
        let dir = try directory(with: ["c.log", "a.log", "b.log", "notes.txt"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try fileInput(("path", dir.path + "/*.log"))
        #expect(try input.expand() == ["a.log", "b.log", "c.log"].map { dir.path + "/" + $0 })
    }

    @Test func filesNamedTwiceAreListedOnce() throws {
        let dir = try directory(with: ["a.log", "b.log"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try fileInput(("path", dir.path + "/b.log"), ("path", dir.path + "/*.log"))
        #expect(try input.expand() == [dir.path + "/b.log", dir.path + "/a.log"])
    }

    @Test func aPatternMatchingNothingIsAnError() throws {
        let dir = try directory(with: ["a.log"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try fileInput(("path", dir.path + "/*.json"))
        let error = rejection { () throws(PluginArgumentError) in try input.expand() }
        #expect(error?.key == "path")
        #expect(error?.message == "no file matches '\(dir.path)/*.json'")
    }

    /// A followed path or glob that matches nothing yet is not an error: the rescan of a
    /// followed input picks the file up once it exists.
    @Test func aFollowedPatternMatchingNothingYetIsNotAnErrorAndMatchesOnceTheFileExists() throws {
        let dir = try directory(with: [])
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try fileInput(("path", dir.path + "/later.log"), ("path", dir.path + "/*.json"), ("follow", "true"))
        #expect(try input.expand() == [])
        FileManager.default.createFile(atPath: dir.path + "/later.log", contents: Data())
        #expect(try input.expand() == [dir.path + "/later.log"])
    }

    @Test func parametersHaveDefaultsAndAreChecked() throws {
        let input = try fileInput(("path", "/x"))
        #expect(!input.follow)
        #expect(input.pollIntervalMicros == 100_000)
        #expect(try fileInput(("path", "/x"), ("poll-interval", "5ms")).pollIntervalMicros == 5000)
        #expect(rejection { () throws(PluginArgumentError) in try fileInput(("path", "/x"), ("poll-interval", "500us")) }?.key == "poll-interval")
        #expect(rejection { () throws(PluginArgumentError) in try fileInput(("follow", "true")) }?.message == "file input needs path=FILE or path=GLOB")
        #expect(rejection { () throws(PluginArgumentError) in try fileInput(("path", "")) }?.key == "path")
    }

    @Test func offsetParametersHaveDefaultsAndAreChecked() throws {
        let input = try fileInput(("path", "/x"))
        #expect(input.offsetsPath == nil)
        #expect(input.offsetsOp == .continue)
        #expect(input.offsetsIntervalMicros == 1_000_000)
        let configured = try fileInput(("path", "/x"), ("offsets", "/var/lib/sluice/offsets"), ("offsets-op", "tail"), ("offsets-interval", "250ms"))
        #expect(configured.offsetsPath == "/var/lib/sluice/offsets")
        #expect(configured.offsetsOp == .tail)
        #expect(configured.offsetsIntervalMicros == 250_000)
        #expect(rejection { () throws(PluginArgumentError) in try fileInput(("path", "/x"), ("offsets-op", "resume")) }?.message
            == "expected continue, tail or reset, got 'resume'")
        #expect(rejection { () throws(PluginArgumentError) in try fileInput(("path", "/x"), ("offsets-interval", "5ms")) }?.key == "offsets-interval")
        #expect(rejection { () throws(PluginArgumentError) in try fileInput(("path", "/x"), ("offsets", "")) }?.key == "offsets")
    }
}
