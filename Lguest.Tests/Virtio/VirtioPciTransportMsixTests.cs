using Lguest.Pci;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

public class VirtioPciTransportMsixTests
{
    private const int Table = VirtioPciTransport.MsixTableOffset;
    private const int Pba = VirtioPciTransport.MsixPbaOffset;
    private const ulong Apic = 0xfee0_0000;

    private FakeVirtioDevice _device = null!;
    private VirtioTestBed _bed = null!;

    [SetUp]
    public void SetUp()
    {
        _device = new FakeVirtioDevice(queueSizes: [256, 64]);
        _bed = new VirtioTestBed(_device, msiRoutes: 64);
    }

    [TearDown]
    public void TearDown() => _bed.Dispose();

    private int Cap => _bed.Transport.Msix!.Offset;

    private uint Control => _bed.Config(Cap + MsixCapability.MessageControl, 2);

    private RecordingMsiRoute Route(int vector) => _bed.Machine.MsiRoutes[vector];

    private void SetControl(ushort bits) => _bed.SetConfig(Cap + MsixCapability.MessageControl, 2, bits);

    private void Program(int vector, ulong address, uint data, bool masked = false)
    {
        int entry = Table + vector * MsixCapability.EntrySize;
        _bed.Write(entry + MsixCapability.EntryVectorControl, 4, 1);
        _bed.Write(entry + MsixCapability.EntryAddressLow, 4, (uint)address);
        _bed.Write(entry + MsixCapability.EntryAddressHigh, 4, (uint)(address >> 32));
        _bed.Write(entry + MsixCapability.EntryData, 4, data);
        if (!masked)
            _bed.Write(entry + MsixCapability.EntryVectorControl, 4, 0);
    }

    // What vp_find_vqs_msix does with a vector per queue: enable with the function masked, program, unmask, map.
    private void BringUpWithVectors()
    {
        SetControl(MsixCapability.ControlEnable | MsixCapability.ControlFunctionMask);
        for (int v = 0; v < 3; v++)
            Program(v, Apic, 0x40u + (uint)v);
        SetControl(MsixCapability.ControlEnable);
        Assert.That(_bed.Negotiate(), Is.True);
        _bed.Write(ConfigMsixVector, 2, 0);
        for (int q = 0; q < 2; q++)
        {
            _bed.SetUpQueue(q, enable: false);
            _bed.Write(QueueMsixVector, 2, (ushort)(q + 1));
            _bed.Write(QueueEnable, 2, 1);
        }
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
        Assert.That(_device.Active, Is.Not.Null);
    }

    [Test]
    public void A_transport_on_a_backend_without_message_interrupts_offers_no_msix()
    {
        using var bed = new VirtioTestBed(new FakeVirtioDevice());
        Assert.That(bed.Transport.Msix, Is.Null);
        Assert.That(bed.Transport.Bar.Size, Is.EqualTo(VirtioPciTransport.BarSize));
        for (int at = (int)bed.Config(PciHeader.CapabilityList, 1); at != 0; at = (int)bed.Config(at + 1, 1))
            Assert.That(bed.Config(at, 1), Is.Not.EqualTo(MsixCapability.CapabilityId));
    }

    [Test]
    public void The_msix_capability_ends_the_list_after_the_virtio_capabilities_with_a_vector_per_queue_and_one_for_configuration()
    {
        int last = 0;
        for (int at = (int)_bed.Config(PciHeader.CapabilityList, 1); at != 0; at = (int)_bed.Config(at + 1, 1))
            last = at;
        Assert.That(last, Is.EqualTo(VirtioPciTransport.DeviceCapability + 16));
        Assert.That(_bed.Config(last, 1), Is.EqualTo(0x11));
        Assert.That(_bed.Config(last + 1, 1), Is.Zero);
        Assert.That(_bed.Config(last + 2, 2), Is.EqualTo(2), "table size 3, encoded as N-1, disabled, unmasked");
        Assert.That(_bed.Config(last + 4, 4), Is.EqualTo(0x4000u), "table at 0x4000 of BAR 0");
        Assert.That(_bed.Config(last + 8, 4), Is.EqualTo(0x5000u), "PBA at 0x5000 of BAR 0");
        Assert.That(_bed.Transport.Bar.Size, Is.EqualTo(VirtioPciTransport.MsixBarSize));
        Assert.That(_bed.Machine.MsiRoutes, Has.Count.EqualTo(3));
    }

    [Test]
    public void Message_control_takes_only_the_enable_and_function_mask_bits()
    {
        SetControl(0xffff);
        Assert.That(Control, Is.EqualTo(0xc002));
        Assert.That(_bed.Transport.Msix!.Enabled, Is.True);
        SetControl(0);
        Assert.That(Control, Is.EqualTo(2));
        Assert.That(_bed.Transport.Msix!.Enabled, Is.False);
    }

    [Test]
    public void The_table_starts_with_every_vector_masked_and_no_message()
    {
        for (int v = 0; v < 3; v++)
        {
            int entry = Table + v * MsixCapability.EntrySize;
            Assert.That(_bed.Read(entry, 8), Is.Zero);
            Assert.That(_bed.Read(entry + 8, 4), Is.Zero);
            Assert.That(_bed.Read(entry + 12, 4), Is.EqualTo(1));
        }
    }

    [Test]
    public void Table_entries_read_back_what_dword_and_qword_writes_stored()
    {
        _bed.Write(Table + 16, 8, 0x0000_0001_fee0_1003);
        _bed.Write(Table + 24, 8, 0xffff_fffe_0000_0041);
        Assert.That(_bed.Read(Table + 16, 4), Is.EqualTo(0xfee0_1000), "the address's low two bits are 0");
        Assert.That(_bed.Read(Table + 20, 4), Is.EqualTo(1));
        Assert.That(_bed.Read(Table + 24, 4), Is.EqualTo(0x41));
        Assert.That(_bed.Read(Table + 28, 4), Is.Zero, "vector control keeps only its mask bit");
        Assert.That(_bed.Read(Table + 16, 8), Is.EqualTo(0x0000_0001_fee0_1000));
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [TestCase(Table, 1, false)]
    [TestCase(Table + 12, 2, false)]
    [TestCase(Table + 2, 4, false)]
    [TestCase(Table + 4, 8, false)]
    [TestCase(Table + 3 * 16, 4, false)]
    [TestCase(Table, 1, true)]
    [TestCase(Table + 12, 2, true)]
    [TestCase(Table + 2, 4, true)]
    [TestCase(Table + 4, 8, true)]
    [TestCase(Table + 3 * 16, 4, true)]
    [TestCase(Pba, 1, false)]
    [TestCase(Pba + 2, 2, false)]
    [TestCase(Pba + 8, 4, false)]
    [TestCase(Pba, 4, true)]
    [TestCase(Pba, 8, true)]
    [TestCase(0x6000, 4, false)]
    [TestCase(0x7ffc, 4, true)]
    public void A_table_or_pba_access_software_must_not_make_needs_a_reset(int offset, int width, bool write)
    {
        if (write)
            _bed.Write(offset, width, 0);
        else
            _ = _bed.Read(offset, width);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void The_pba_reads_as_dwords_and_qwords()
    {
        Assert.That(_bed.Read(Pba, 4), Is.Zero);
        Assert.That(_bed.Read(Pba + 4, 4), Is.Zero);
        Assert.That(_bed.Read(Pba, 8), Is.Zero);
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [TestCase(0, 0)]
    [TestCase(2, 2)]
    [TestCase(3, NoVector)]
    [TestCase(0x7ff, NoVector)]
    [TestCase(NoVector, NoVector)]
    public void A_vector_maps_only_if_the_table_has_it(int written, int readBack)
    {
        _bed.Write(ConfigMsixVector, 2, (ushort)written);
        _bed.Write(QueueSelect, 2, 1);
        _bed.Write(QueueMsixVector, 2, (ushort)written);
        Assert.That(_bed.Read(ConfigMsixVector, 2), Is.EqualTo(readBack));
        Assert.That(_bed.Read(QueueMsixVector, 2), Is.EqualTo(readBack));
        _bed.Write(QueueSelect, 2, 0);
        Assert.That(_bed.Read(QueueMsixVector, 2), Is.EqualTo(NoVector), "queue 0 kept its own");
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void The_vector_of_a_queue_that_does_not_exist_reads_no_vector()
    {
        _bed.Write(QueueSelect, 2, 7);
        _bed.Write(QueueMsixVector, 2, 1);
        Assert.That(_bed.Read(QueueMsixVector, 2), Is.EqualTo(NoVector));
    }

    [Test]
    public void With_msix_enabled_a_used_buffer_notification_sends_the_queue_vector_message_and_neither_isr_nor_intx()
    {
        BringUpWithVectors();
        _device.Active!.Transport.SignalUsedBuffers(1);
        Assert.That(Route(2).Sent, Is.EqualTo(new[] { (Apic, 0x42u) }));
        Assert.That(Route(0).Sent, Is.Empty);
        Assert.That(Route(1).Sent, Is.Empty);
        Assert.That(_bed.Line.RisingEdges, Is.Zero);
        Assert.That(_bed.ReadIsr(), Is.Zero);
    }

    [Test]
    public void With_msix_enabled_a_configuration_change_sets_isr_bit_1_and_sends_the_configuration_vector_without_intx()
    {
        BringUpWithVectors();
        _device.Active!.Transport.SignalConfigChange();
        Assert.That(Route(0).Sent, Is.EqualTo(new[] { (Apic, 0x40u) }));
        Assert.That(_bed.Line.RisingEdges, Is.Zero);
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrConfig));
    }

    [Test]
    public void A_queue_on_no_vector_interrupts_nobody()
    {
        BringUpWithVectors();
        _bed.Write(QueueSelect, 2, 0);
        _bed.Write(QueueMsixVector, 2, NoVector);
        _device.Active!.Transport.SignalUsedBuffers(0);
        Assert.That(_bed.Machine.MsiRoutes.SelectMany(r => r.Sent), Is.Empty);
        Assert.That(_bed.Line.RisingEdges, Is.Zero);
        Assert.That(_bed.ReadIsr(), Is.Zero);
    }

    [Test]
    public void A_masked_vector_sets_its_pending_bit_and_sends_when_unmasked()
    {
        BringUpWithVectors();
        _bed.Write(Table + 2 * 16 + 12, 4, 1);
        _device.Active!.Transport.SignalUsedBuffers(1);
        _device.Active!.Transport.SignalUsedBuffers(1);
        Assert.That(Route(2).Sent, Is.Empty);
        Assert.That(_bed.Read(Pba, 8), Is.EqualTo(0b100));
        Assert.That(_bed.Transport.Msix!.IsPending(2), Is.True);

        _bed.Write(Table + 2 * 16 + 12, 4, 0);
        Assert.That(Route(2).Sent, Has.Count.EqualTo(1), "one pending bit, one message");
        Assert.That(_bed.Read(Pba, 4), Is.Zero);
    }

    [Test]
    public void The_function_mask_holds_every_vector_pending_until_it_is_cleared()
    {
        BringUpWithVectors();
        SetControl(MsixCapability.ControlEnable | MsixCapability.ControlFunctionMask);
        _device.Active!.Transport.SignalUsedBuffers(0);
        _device.Active!.Transport.SignalConfigChange();
        Assert.That(_bed.Read(Pba, 4), Is.EqualTo(0b011));
        Assert.That(_bed.Machine.MsiRoutes.SelectMany(r => r.Sent), Is.Empty);

        SetControl(MsixCapability.ControlEnable);
        Assert.That(Route(0).Sent, Has.Count.EqualTo(1));
        Assert.That(Route(1).Sent, Has.Count.EqualTo(1));
        Assert.That(_bed.Read(Pba, 4), Is.Zero);
        Assert.That(_bed.Line.RisingEdges, Is.Zero);
    }

    [Test]
    public void A_message_changed_while_masked_reaches_the_backend_on_unmask_and_not_per_interrupt()
    {
        BringUpWithVectors();
        Assert.That(Route(1).Updates, Is.EqualTo(1));
        for (int i = 0; i < 10; i++)
            _device.Active!.Transport.SignalUsedBuffers(0);
        Assert.That(Route(1).Updates, Is.EqualTo(1));
        Assert.That(Route(1).Sent, Has.Count.EqualTo(10));

        Program(1, Apic | 0x1000, 0x51, masked: true);
        Assert.That(Route(1).Updates, Is.EqualTo(1), "not while masked");
        _bed.Write(Table + 16 + 12, 4, 0);
        Assert.That(Route(1).Message, Is.EqualTo((Apic | 0x1000, 0x51u)));
        Assert.That(Route(1).Updates, Is.EqualTo(2));
    }

    [Test]
    public void With_msix_disabled_notifications_use_isr_and_intx_as_without_msix()
    {
        Assert.That(_bed.Transport.Msix, Is.Not.Null);
        _bed.BringUp();
        _device.Active!.Transport.SignalUsedBuffers(0);
        Assert.That(_bed.Line.IsAsserted, Is.True);
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrQueue));
        Assert.That(_bed.Line.IsAsserted, Is.False);
        Assert.That(_bed.Machine.MsiRoutes.SelectMany(r => r.Sent), Is.Empty);
    }

    [Test]
    public void Enabling_msix_lowers_intx_and_disabling_it_raises_intx_again_for_an_unread_isr()
    {
        _bed.BringUp();
        _device.Active!.Transport.SignalUsedBuffers(0);
        Assert.That(_bed.Line.IsAsserted, Is.True);
        SetControl(MsixCapability.ControlEnable);
        Assert.That(_bed.Line.IsAsserted, Is.False);
        SetControl(0);
        Assert.That(_bed.Line.IsAsserted, Is.True);
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrQueue));
    }

    [Test]
    public void A_reset_restores_no_vector_and_drops_pending_messages()
    {
        BringUpWithVectors();
        SetControl(MsixCapability.ControlEnable | MsixCapability.ControlFunctionMask);
        _device.Active!.Transport.SignalUsedBuffers(0);
        _bed.SetStatus(VirtioDeviceStatus.None);
        Assert.That(_bed.Read(ConfigMsixVector, 2), Is.EqualTo(NoVector));
        for (int q = 0; q < 2; q++)
        {
            _bed.Write(QueueSelect, 2, (ushort)q);
            Assert.That(_bed.Read(QueueMsixVector, 2), Is.EqualTo(NoVector));
        }
        Assert.That(_bed.Read(Pba, 8), Is.Zero);
        SetControl(MsixCapability.ControlEnable);
        Assert.That(_bed.Machine.MsiRoutes.SelectMany(r => r.Sent), Is.Empty);
    }

    [Test]
    public void A_backend_that_runs_out_of_routes_part_way_gets_no_msix_and_its_routes_back()
    {
        using var bed = new VirtioTestBed(new FakeVirtioDevice(queueSizes: [16, 16, 16]), msiRoutes: 2);
        Assert.That(bed.Transport.Msix, Is.Null);
        Assert.That(bed.Transport.Bar.Size, Is.EqualTo(VirtioPciTransport.BarSize));
        Assert.That(bed.Machine.MsiRoutes.All(r => r.IsDisposed), Is.True);
    }

    [Test]
    public void Disposing_the_transport_releases_its_routes()
    {
        _bed.Transport.Dispose();
        Assert.That(_bed.Machine.MsiRoutes.All(r => r.IsDisposed), Is.True);
    }

    [Test]
    public void The_pci_configuration_window_reaches_the_table()
    {
        Program(1, Apic, 0x77, masked: true);
        int window = VirtioPciTransport.PciConfigCapability;
        _bed.SetConfig(window + 4, 1, 0);
        _bed.SetConfig(window + 8, 4, (uint)(Table + 16 + 8));
        _bed.SetConfig(window + 12, 4, 4);
        Assert.That(_bed.Config(window + 16, 4), Is.EqualTo(0x77));
    }
}
