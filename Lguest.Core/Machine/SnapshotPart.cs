namespace Lguest.Machine;

/// <summary>One device's section of a machine snapshot (<see cref="PlatformContext.AddSnapshotState"/>).</summary>
internal sealed record SnapshotPart(string Name, Func<byte[]> Capture, Action<ReadOnlyMemory<byte>> Restore);
