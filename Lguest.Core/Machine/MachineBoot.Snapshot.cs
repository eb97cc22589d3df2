using System.Diagnostics;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Snapshot;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

// Snapshots of a boot. Capture, while paused: the machine record, every vCPU, the VM, then every part the devices
// registered (platform devices, then each PCI device's configuration space, MSI-X table and transport), then guest RAM
// and the files (SnapshotDirectory.Write). Restore builds the same machine around RAM mapped from the snapshot, with
// everything checked that can be before RAM is mapped (the container, the machine's shape, each vCPU's CPUID against
// this host's KVM), then loads state in Firecracker's order: vCPUs, the VM, the devices in registration order.
internal sealed partial class MachineBoot
{
    /// <summary>Writes a snapshot of this boot, which must be paused, into <paramref name="directory"/>.</summary>
    /// <exception cref="SnapshotException">The backend or a device cannot take part in snapshots.</exception>
    /// <exception cref="IOException">A file cannot be written.</exception>
    public SnapshotManifest CaptureSnapshot(string directory)
    {
        if (!_devicesPaused || _memory is null || _machine is null || _context is null)
            throw new InvalidOperationException("a snapshot is taken of a paused boot only");
        var start = Stopwatch.GetTimestamp();
        var sections = new List<SnapshotSection>
        {
            new(MachineSnapshot.SectionName, new MachineSnapshot(_profile.Name, _options.CpuCount, _options.MemoryBytes).Encode()),
        };
        IVcpu[] vcpus;
        lock (_vcpuLock)
            vcpus = [.. _vcpus];
        foreach (IVcpu vcpu in vcpus)
            sections.Add(new SnapshotSection(MachineSnapshot.VcpuSectionPrefix + vcpu.Index, BackendStateRecord.Encode(vcpu.CaptureState())));
        sections.Add(new SnapshotSection(MachineSnapshot.VmSectionName, BackendStateRecord.Encode(_machine.CaptureState())));
        foreach (SnapshotPart part in _context.SnapshotParts)
            sections.Add(new SnapshotSection(part.Name, part.Capture()));
        double stateMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        SnapshotManifest manifest = SnapshotDirectory.Write(directory, _memory, sections);
        if (_logger.IsEnabled(LogLevel.Information))
            _logger.SnapshotWritten(directory, manifest.Memory.DataBytes >> 20, _options.MemoryBytes >> 20, Stopwatch.GetElapsedTime(start).TotalMilliseconds, stateMs);
        return manifest;
    }

    /// <summary>
    /// Builds this boot from the snapshot instead of a boot image: checks it fits this machine and host, maps guest
    /// RAM from it copy-on-write, builds the devices and vCPUs, and loads every state. The boot is then started as
    /// after <see cref="Build"/>.
    /// </summary>
    /// <exception cref="SnapshotException">The snapshot does not fit this machine, its devices or this host.</exception>
    public void BuildRestored(SnapshotContents contents)
    {
        var start = Stopwatch.GetTimestamp();
        MachineSnapshot machine = MachineSnapshot.FromContents(contents);
        if (machine.Machine != _profile.Name)
            throw Incompatible($"the snapshot is of a {machine.Machine} machine; this launcher runs a {_profile.Name} machine");
        if (machine.CpuCount != _options.CpuCount || machine.MemoryBytes != _options.MemoryBytes)
            throw Incompatible($"the snapshot's guest has {machine.CpuCount} vCPU(s) and {machine.MemoryBytes >> 20} MiB; this launcher gives {_options.CpuCount} and {_options.MemoryBytes >> 20} MiB");
        if (!contents.Manifest.Layout.Regions.SequenceEqual(_layout.Regions) || contents.Manifest.Layout.MmioWindow != _layout.MmioWindow)
            throw Incompatible("the snapshot's guest RAM is laid out otherwise than this machine lays it out");
        if (contents.Sections.Count(s => s.Name.StartsWith(MachineSnapshot.VcpuSectionPrefix, StringComparison.Ordinal)) != machine.CpuCount)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"the snapshot's vCPU sections do not match its {machine.CpuCount} vCPU(s)");
        var vcpuStates = new BackendState[machine.CpuCount];
        for (int i = 0; i < vcpuStates.Length; i++)
        {
            vcpuStates[i] = BackendStateRecord.Decode(contents.GetSection(MachineSnapshot.VcpuSectionPrefix + i).Data, $"vCPU {i}'s state");
            _hypervisor.CheckRestorable(vcpuStates[i]);
        }
        BackendState vmState = BackendStateRecord.Decode(contents.GetSection(MachineSnapshot.VmSectionName).Data, "the VM's state");

        var mapping = Stopwatch.GetTimestamp();
        BuildPlatform(contents.MapMemory(_options.RestoreVerification));
        double mapMs = Stopwatch.GetElapsedTime(mapping).TotalMilliseconds;
        IReadOnlyList<SnapshotPart> parts = _context!.SnapshotParts;
        var claimed = new HashSet<string>(parts.Select(p => p.Name), StringComparer.Ordinal);
        foreach (SnapshotSection section in contents.Sections)
        {
            if (!MachineSnapshot.IsReservedSection(section.Name) && !claimed.Contains(section.Name))
                throw Incompatible($"the snapshot has state for '{section.Name}', which no device of this machine takes: it was taken with other devices");
        }
        for (int i = 0; i < vcpuStates.Length; i++)
        {
            IVcpu vcpu = _machine!.CreateVcpu(i, null);
            lock (_vcpuLock)
                _vcpus.Add(vcpu);
            vcpu.RestoreState(vcpuStates[i]);
        }
        _machine!.RestoreState(vmState);
        foreach (SnapshotPart part in parts)
            part.Restore(contents.GetSection(part.Name).Data);
        if (_logger.IsEnabled(LogLevel.Information))
            _logger.Restored(contents.Directory, _options.MemoryBytes >> 20, _options.CpuCount, _hypervisor.Name, Stopwatch.GetElapsedTime(start).TotalMilliseconds,
                mapMs, _options.RestoreVerification == ImageVerification.Full ? "every byte" : "a sample",
                contents.Manifest.Memory.DataBytes >> 20);
    }

    private static SnapshotException Incompatible(string message) => new(SnapshotRefusal.Incompatible, message);
}
