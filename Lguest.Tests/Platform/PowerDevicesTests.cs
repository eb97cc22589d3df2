using Lguest.Platform;
using Moq;

namespace Lguest.Tests.Platform;

public class PowerDevicesTests
{
    [Test]
    public void PM1a_control_with_SLP_EN_and_S5_powers_off()
    {
        var power = new Mock<IPowerControl>(MockBehavior.Strict);
        power.Setup(p => p.RequestPowerOff());
        var pm = new AcpiPmRegisters(power.Object);
        pm.Write(4, [0x00, 0x20]); // 0x2000 at 0x604, as the probe writes it
        power.Verify(p => p.RequestPowerOff(), Times.Once);
    }

    [Test]
    public void PM1a_control_without_SLP_EN_does_nothing()
    {
        var power = new Mock<IPowerControl>(MockBehavior.Strict);
        var pm = new AcpiPmRegisters(power.Object);
        pm.Write(4, [0x01, 0x00]);
        power.VerifyNoOtherCalls();
    }

    [Test]
    public void PM1a_control_with_another_sleep_type_does_not_power_off()
    {
        var power = new Mock<IPowerControl>(MockBehavior.Strict);
        var pm = new AcpiPmRegisters(power.Object);
        pm.Write(4, [0x00, 0x20 | (1 << 2)]); // SLP_TYP 1
        power.VerifyNoOtherCalls();
    }

    [Test]
    public void PM1a_control_reads_SCI_EN_set()
    {
        var pm = new AcpiPmRegisters(Mock.Of<IPowerControl>());
        Span<byte> value = stackalloc byte[2];
        pm.Read(4, value);
        Assert.That(value[0] & 1, Is.EqualTo(1));
    }

    [Test]
    public void Writing_0x06_to_0xCF9_resets()
    {
        var power = new Mock<IPowerControl>(MockBehavior.Strict);
        power.Setup(p => p.RequestReset());
        new ResetControlRegister(power.Object).Write(1, [ResetControlRegister.ResetValue]);
        power.Verify(p => p.RequestReset(), Times.Once);
    }

    [Test]
    public void A_dword_access_at_0xCF8_is_not_the_reset_register()
    {
        var power = new Mock<IPowerControl>(MockBehavior.Strict);
        new ResetControlRegister(power.Object).Write(0, [0x06, 0x06, 0x06, 0x86]);
        power.VerifyNoOtherCalls();
    }

    [Test]
    public void Keyboard_controller_command_0xFE_resets()
    {
        var power = new Mock<IPowerControl>(MockBehavior.Strict);
        power.Setup(p => p.RequestReset());
        new I8042Controller(power.Object).Write(4, [0xFE]);
        power.Verify(p => p.RequestReset(), Times.Once);
    }

    [Test]
    public void Keyboard_controller_other_commands_are_ignored()
    {
        var power = new Mock<IPowerControl>(MockBehavior.Strict);
        var i8042 = new I8042Controller(power.Object);
        i8042.Write(4, [0xAA]);
        i8042.Write(0, [0xFE]);
        power.VerifyNoOtherCalls();
    }
}
