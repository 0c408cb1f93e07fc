import CSupport
import Glibc

/// A failed system call or io_uring operation, carrying the errno and what was being done.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let code: Int32
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// From a negative io_uring completion result or a negative shim return value.
    public init(negated result: Int32, operation: String) {
        self.init(code: -result, operation: operation)
    }

    /// From the thread's errno after a failed libc call.
    public static func lastErrno(_ operation: String) -> SystemError {
        SystemError(code: errno, operation: operation)
    }

    /// The symbolic name, e.g. "ECONNRESET".
    public var name: String {
        if let cName = sl_errno_name(code) { return String(cString: cName) }
        return "errno \(code)"
    }

    public var description: String {
        "\(operation): \(name) (\(String(cString: strerror(code))))"
    }
}
