using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;
using Lguest.Snapshot;
using Lguest.Virtio;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// The snapshot parsers on mutated files: the manifest, the state file and the records in its sections, which a
/// restore reads before anything is mapped or run. A refusal is a <see cref="SnapshotException"/>; what parses
/// must encode back to bytes that parse to the same.
/// </summary>
/// <remarks>
/// Layout: byte 0 picks the parser (0 the manifest, 1 the state file with each section read as the record its
/// name says, 2 one backend state record; with bit 2 set, the manifest's trailing checksum is made right first, so
/// mutations reach the body's checks); the rest is the file.
/// </remarks>
public sealed class SnapshotTarget : FuzzTarget, IDisposable
{
    /// <inheritdoc />
    public override string Name => "snapshot";

    /// <inheritdoc />
    public override int MaxInputLength => 1 + 16384;

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        byte[] file = reader.Rest.ToArray();
        if ((mode & 4) != 0 && file.Length >= 16)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(file.AsSpan(file.Length - 16), System.IO.Hashing.XxHash128.HashToUInt128(file.AsSpan(0, file.Length - 16)));
        switch ((mode & 3) % 3)
        {
            case 0:
                SnapshotManifest manifest = SnapshotManifest.Parse(file);
                SnapshotManifest again = SnapshotManifest.Parse(manifest.Encode());
                if (again.StateSize != manifest.StateSize || again.StateChecksum != manifest.StateChecksum
                    || again.Memory.Checksum != manifest.Memory.Checksum || again.Memory.SampleChecksum != manifest.Memory.SampleChecksum
                    || !again.Memory.Extents.SequenceEqual(manifest.Memory.Extents)
                    || !again.Layout.Regions.SequenceEqual(manifest.Layout.Regions) || again.Layout.MmioWindow != manifest.Layout.MmioWindow)
                    throw new InvariantViolationException("a parsed manifest encodes to a different one");
                break;
            case 1:
                IReadOnlyList<SnapshotSection> sections = SnapshotStateFile.Parse(file);
                IReadOnlyList<SnapshotSection> reparsed = SnapshotStateFile.Parse(SnapshotStateFile.Encode(sections));
                if (!reparsed.Select(s => (s.Name, Convert.ToHexString(s.Data.Span))).SequenceEqual(sections.Select(s => (s.Name, Convert.ToHexString(s.Data.Span)))))
                    throw new InvariantViolationException("a parsed state file encodes to a different one");
                foreach (SnapshotSection section in sections)
                    ReadRecord(section);
                break;
            default:
                CheckBackendState(file);
                break;
        }
    }

    // Each section as the record its name says; unknown names are left alone (the machine's restore refuses them).
    private static void ReadRecord(SnapshotSection section)
    {
        if (section.Name == "vm" || section.Name.StartsWith("vcpu/", StringComparison.Ordinal))
            CheckBackendState(section.Data.ToArray());
        else if (section.Name == "platform/uart")
            _ = UartState.Decode(section.Data).Encode();
        else if (section.Name == "platform/rtc")
            _ = CmosRtcState.Decode(section.Data).Encode();
        else if (section.Name == "platform/acpi-pm")
            _ = AcpiPmState.Decode(section.Data).Encode();
        else if (section.Name.EndsWith("/msix", StringComparison.Ordinal))
            _ = MsixState.Decode(section.Data).Encode();
        else if (section.Name.EndsWith("/virtio", StringComparison.Ordinal))
            CheckTransportState(section.Data);
        else if (section.Name == MachineSnapshot.SectionName)
            _ = MachineSnapshot.Decode(MachineSnapshot.Decode(section.Data).Encode());
    }

    private static void CheckTransportState(ReadOnlyMemory<byte> data)
    {
        byte[] encoded = VirtioTransportState.Decode(data).Encode();
        if (!VirtioTransportState.Decode(encoded).Encode().AsSpan().SequenceEqual(encoded))
            throw new InvariantViolationException("a decoded transport state encodes to other bytes");
    }

    private static void CheckBackendState(byte[] data)
    {
        BackendState state = BackendStateRecord.Decode(data, "a backend state");
        byte[] encoded = BackendStateRecord.Encode(state);
        if (!encoded.AsSpan().SequenceEqual(data))
            throw new InvariantViolationException("a decoded backend state encodes to other bytes");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        var layout = GuestMemoryLayout.WithMmioHole(16 << 20);
        var image = new GuestMemoryImage(layout.TotalSize, [new GuestMemoryExtent(0, 0x2000), new GuestMemoryExtent(0x10000, 0x1000)], 0x1234, 0x5678);
        byte[] manifest = new SnapshotManifest(300, 42, layout, image).Encode();
        yield return new("manifest", [0, .. manifest]);
        yield return new("manifest-checksum-fixed", [4, .. manifest]);
        var vcpu = new BackendState("kvm", [new("regs", new byte[16]), new("mp-state", new byte[4])]);
        var vm = new BackendState("kvm", [new("clock", new byte[48])]);
        byte[] state = SnapshotStateFile.Encode(
        [
            new SnapshotSection("vm", BackendStateRecord.Encode(vm)),
            new SnapshotSection("vcpu/0", BackendStateRecord.Encode(vcpu)),
            new SnapshotSection("device/rng", new byte[] { 1, 2, 3 }),
            new SnapshotSection("platform/uart", new Uart16550(null, null).CaptureState().Encode()),
            new SnapshotSection("platform/rtc", new CmosRtc(16 << 20, 0, 1).CaptureState().Encode()),
            new SnapshotSection("platform/acpi-pm", new AcpiPmState(1, 2, 3).Encode()),
            new SnapshotSection("pci/rng/msix", new MsixState([new MsixEntryState(0xFEE0_0000, 0x41, 1)], [1]).Encode()),
            new SnapshotSection(MachineSnapshot.SectionName, new MachineSnapshot("pc", 2, 256 << 20).Encode()),
            new SnapshotSection("pci/2/virtio", new VirtioTransportState(0x0f, 1, 0, 1UL << 32, false, 1, false, 0, false, 1,
                [new VirtioQueueState(256, true, 0x10000, 0x11000, 0x12000, 1, new VringPosition(7, 5, 4))], new byte[] { 1, 2 }).Encode()),
        ]);
        yield return new("state", [1, .. state]);
        yield return new("backend-state", [2, .. BackendStateRecord.Encode(vcpu)]);
    }
}
