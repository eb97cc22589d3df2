using Lguest.Platform;
using Lguest.Tests.Support;
using Moq;

namespace Lguest.Tests.Platform;

/// <summary>
/// The fixed-feature ACPI power button in PM1 (ACPI 6.5 §4.8.2.2.1.1): PWRBTN_STS latches a press, the SCI is high
/// while the status and PWRBTN_EN are both set, and the OS clears it by writing 1 to the status bit.
/// </summary>
public class PowerButtonTests
{
    private static ushort Status(AcpiPmRegisters pm)
    {
        Span<byte> value = stackalloc byte[2];
        pm.Read(0, value);
        return (ushort)(value[0] | value[1] << 8);
    }

    [Test]
    public void A_press_the_os_listens_to_raises_the_sci_until_the_os_clears_the_status()
    {
        var sci = new RecordingInterruptLine(9);
        var pm = new AcpiPmRegisters(Mock.Of<IPowerControl>(MockBehavior.Strict), sci);
        pm.Write(2, [0x00, 0x01]); // PM1_EN.PWRBTN_EN, as Linux's button driver sets it
        Assert.That(sci.IsAsserted, Is.False);

        Assert.That(pm.PressPowerButton(), Is.True);
        Assert.That((Status(pm) & 0x100, sci.IsAsserted), Is.EqualTo((0x100, true)));

        pm.Write(0, [0x00, 0x01]); // write 1 to clear PWRBTN_STS
        Assert.That((Status(pm) & 0x100, sci.IsAsserted), Is.EqualTo((0, false)));
    }

    [Test]
    public void A_press_the_os_does_not_listen_to_is_latched_and_raises_the_sci_once_the_event_is_enabled()
    {
        var sci = new RecordingInterruptLine(9);
        var pm = new AcpiPmRegisters(Mock.Of<IPowerControl>(MockBehavior.Strict), sci);
        Assert.That(pm.PressPowerButton(), Is.False, "nobody listens yet");
        Assert.That(sci.IsAsserted, Is.False);
        pm.Write(2, [0x00, 0x01]);
        Assert.That(sci.IsAsserted, Is.True, "the latched press fires when the driver enables the event");
    }

    [Test]
    public void The_fadt_declares_a_fixed_feature_power_button()
    {
        byte[] fadt = AcpiTables.Fadt();
        uint flags = BitConverter.ToUInt32(fadt, 112);
        Assert.That(flags & (1u << 4), Is.Zero, "PWR_BUTTON clear: the power button is the fixed feature");
    }
}
