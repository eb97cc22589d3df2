namespace Lguest.Snapshot;

/// <summary>
/// A snapshot cannot be taken or restored: the backend cannot snapshot, the files are damaged, of another format
/// version, or need what this host lacks. The message is one line for a person; nothing was mapped or run.
/// </summary>
public sealed class SnapshotException : LguestException
{
    /// <summary>A refusal for <paramref name="reason"/>; <paramref name="message"/> is the one line a person reads.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="message">One line: what does not fit, with the values that do not.</param>
    /// <param name="innerException">The error behind it, if any.</param>
    public SnapshotException(SnapshotRefusal reason, string message, Exception? innerException = null)
        : base(message, innerException) => Reason = reason;

    /// <summary>Why the snapshot was refused.</summary>
    public SnapshotRefusal Reason { get; }

    internal static SnapshotException DeviceNotSupported(string device) =>
        new(SnapshotRefusal.NotSupported, $"device {device} cannot take part in snapshots (it does not say what its state is)");

    internal static SnapshotException NotSupported(string what) =>
        new(SnapshotRefusal.NotSupported, $"this hypervisor backend cannot {what} (snapshots need KVM)");
}
