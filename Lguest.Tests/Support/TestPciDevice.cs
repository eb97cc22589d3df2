using Lguest.Memory;
using Lguest.Pci;

namespace Lguest.Tests.Support;

/// <summary>A PCI device with the BARs a test asks for, each backed by a <see cref="RecordingIoDevice"/>, and an INTx# pin it drives on demand.</summary>
internal sealed class TestPciDevice : PciDevice
{
    public TestPciDevice(string name = "test", params (int Index, ulong Size, PciBarKind Kind)[] bars)
        : base(name, new PciDeviceIdentity(VendorId: 0x1234, DeviceId: 0x5678, ClassCode: 0xff_00_00, RevisionId: 3, SubsystemVendorId: 0xabcd, SubsystemId: 0xef01))
    {
        foreach ((int index, ulong size, PciBarKind kind) in bars)
        {
            var region = new RecordingIoDevice();
            Regions[index] = region;
            AddMemoryBar(index, size, kind, prefetchable: false, region);
        }
        UseInterruptPin();
    }

    public Dictionary<int, RecordingIoDevice> Regions { get; } = [];

    public List<(int Bar, GuestAddress? Previous, GuestAddress? Now)> Mappings { get; } = [];

    public void Interrupt(bool asserted) => SetInterruptLevel(asserted);

    protected override void OnBarMapped(PciBar bar, GuestAddress? previous) => Mappings.Add((bar.Index, previous, bar.MappedAddress));
}
