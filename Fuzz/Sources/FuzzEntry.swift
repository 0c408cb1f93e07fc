import Foundation

/// The fuzz targets by name. Each runs one input and stops the process (`precondition`) when an
/// invariant breaks; an input that is merely invalid (bad JSON, a bad spec) is not a failure.
enum FuzzTargets {
    static let all: [(name: String, run: @Sendable (UnsafeRawBufferPointer) -> Void)] = [
        ("framer", FramerFuzzTarget.run),
        ("json", JSONFuzzTarget.run),
        ("spec", SpecFuzzTarget.run),
        ("yaml", YAMLFuzzTarget.run),
    ]

    static func named(_ name: String) -> (@Sendable (UnsafeRawBufferPointer) -> Void)? {
        all.first { $0.name == name }?.run
    }

    static var usage: String {
        "usage: sluice-fuzz TARGET [libFuzzer options | corpus files and directories]; targets: \(all.map(\.name).joined(separator: ", "))"
    }
}

#if FUZZING
/// libFuzzer's entry for a program with its own main (linked by `-sanitize=fuzzer`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Chosen once in `fuzzMain`, before libFuzzer starts calling back (a C callback cannot capture it).
nonisolated(unsafe) var selectedTarget: (@Sendable (UnsafeRawBufferPointer) -> Void)?

/// SwiftPM links an executable with `main` defined as `<module>_main`, which also hides
/// libFuzzer's own `main`: this one takes the target name off the command line and hands the
/// rest to libFuzzer's driver.
@_cdecl("sluice_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard argc >= 2, let argv, let name = argv[1].map({ String(cString: $0) }), let target = FuzzTargets.named(name) else {
        FileHandle.standardError.write(Data((FuzzTargets.usage + "\n").utf8))
        return 2
    }
    selectedTarget = target
    // libFuzzer sees argv[0] followed by everything after the target name.
    var rest: [UnsafeMutablePointer<CChar>?] = [argv[0]] + (2..<Int(argc)).map { argv[$0] } + [nil]
    var count = argc - 1
    return rest.withUnsafeMutableBufferPointer { buffer in
        var pointer = buffer.baseAddress
        return LLVMFuzzerRunDriver(&count, &pointer) { data, size in
            selectedTarget!(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
    }
}
#else
/// Without `-DFUZZING`: runs every file of the given corpus files and directories through a
/// target once, so the corpus and any crash input can be replayed with a plain build.
@main
enum CorpusReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTargets.named(name), arguments.count >= 2 else {
            FileHandle.standardError.write(Data((FuzzTargets.usage + "\n").utf8))
            exit(2)
        }
        var replayed = 0
        for path in arguments.dropFirst() {
            guard FileManager.default.fileExists(atPath: path) else {
                FileHandle.standardError.write(Data("sluice-fuzz: no such file or directory: \(path)\n".utf8))
                exit(1)
            }
            for file in files(under: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("sluice-fuzz: cannot read \(file)\n".utf8))
                    exit(1)
                }
                data.withUnsafeBytes { target($0) }
                replayed += 1
            }
        }
        print("sluice-fuzz: \(name): \(replayed) input(s) replayed, no invariant broken")
    }

    /// `path` itself when it is a file, else every regular file below it, sorted.
    static func files(under path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let entries = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
        return entries.sorted().map { "\(path)/\($0)" }.filter {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &directory) && !directory.boolValue
        }
    }
}
#endif
