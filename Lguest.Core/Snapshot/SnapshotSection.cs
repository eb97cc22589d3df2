namespace Lguest.Snapshot;

/// <summary>One named record of a snapshot's state file: a vCPU's, the VM's, a device's.</summary>
/// <param name="Name">The record's name, unique in the snapshot ("vcpu/0", "platform/uart"): see <see cref="SnapshotFormat.IsValidSectionName"/>.</param>
/// <param name="Data">The record, in the encoding its owner reads (<see cref="SnapshotStateReader"/>).</param>
public sealed record SnapshotSection(string Name, ReadOnlyMemory<byte> Data);
