using Lguest.Snapshot;

namespace Lguest.Machine;

/// <summary>
/// What machine a snapshot was taken of (its <c>machine</c> section): the profile, the vCPUs and guest RAM. A restore
/// needs a launcher of that shape (<see cref="LauncherOptions.MemoryBytes"/>, <see cref="LauncherOptions.CpuCount"/>)
/// with the same devices in the same order; <see cref="Read"/> tells a caller (the CLI, the API) what to set.
/// </summary>
/// <param name="Machine">The <see cref="MachineProfile.Name"/> ("pc").</param>
/// <param name="CpuCount">How many vCPUs the guest has.</param>
/// <param name="MemoryBytes">Guest RAM, as <see cref="LauncherOptions.MemoryBytes"/> gave it.</param>
public sealed record MachineSnapshot(string Machine, int CpuCount, ulong MemoryBytes)
{
    /// <summary>The section that holds this record.</summary>
    public const string SectionName = "machine";

    /// <summary>The VM's section (<see cref="Hypervisor.IVirtualMachine.CaptureState"/>).</summary>
    public const string VmSectionName = "vm";

    /// <summary>The prefix of each vCPU's section, followed by its index (<see cref="Hypervisor.IVcpu.CaptureState"/>).</summary>
    public const string VcpuSectionPrefix = "vcpu/";

    /// <summary>
    /// Reads and checks the snapshot in <paramref name="directory"/> (<see cref="SnapshotDirectory.Read"/>: manifest,
    /// checksums, version, structure) and returns the machine it was taken of. Nothing is mapped or run.
    /// </summary>
    /// <exception cref="SnapshotException">The snapshot is missing, truncated, damaged, of another version, or has no machine record.</exception>
    public static MachineSnapshot Read(string directory) => FromContents(SnapshotDirectory.Read(directory));

    internal static MachineSnapshot FromContents(SnapshotContents contents) => Decode(contents.GetSection(SectionName).Data);

    /// <summary>Decodes the record, checking every field (a snapshot is hostile input).</summary>
    /// <exception cref="SnapshotException">Truncated, or a field out of range.</exception>
    public static MachineSnapshot Decode(ReadOnlyMemory<byte> data)
    {
        var reader = new SnapshotStateReader(data, "the machine record");
        string machine = reader.ReadName();
        uint cpus = reader.ReadUInt32();
        ulong memory = reader.ReadUInt64();
        reader.RequireEnd();
        if (cpus < 1 || cpus > LauncherOptions.MaxCpus)
            throw reader.Corrupt($"{cpus} vCPUs is outside 1..{LauncherOptions.MaxCpus}");
        if (memory < LauncherOptions.MinMemoryBytes || memory > LauncherOptions.MaxMemoryBytes)
            throw reader.Corrupt($"{memory} bytes of RAM is outside what a guest can have");
        return new MachineSnapshot(machine, (int)cpus, memory);
    }

    internal static bool IsReservedSection(string name) =>
        name is SectionName or VmSectionName || name.StartsWith(VcpuSectionPrefix, StringComparison.Ordinal);

    /// <summary>Encodes the record: the machine's name, u32 vCPUs, u64 bytes of RAM.</summary>
    public byte[] Encode()
    {
        var writer = new SnapshotStateWriter();
        writer.WriteName(Machine);
        writer.WriteUInt32((uint)CpuCount);
        writer.WriteUInt64(MemoryBytes);
        return writer.ToArray();
    }
}
