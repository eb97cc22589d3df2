using System.Diagnostics;
using Lguest.Hypervisor;
using Lguest.Kvm;
using Lguest.Memory;
using Lguest.Platform;
using Lguest.Tests.Support;

namespace Lguest.Tests.Kvm;

/// <summary>A few instructions on this host's KVM, checked exit by exit.</summary>
[Category("Kvm")]
public class KvmVcpuTests
{
    private const ushort Com1 = 0x3F8;
    private static readonly GuestAddress Code = new(0x1000);

    private KvmHypervisor _kvm = null!;
    private GuestMemory _memory = null!;
    private IVirtualMachine _vm = null!;

    private void CreateVm(bool irqchip = false)
    {
        _kvm = KvmHost.OpenOrIgnore(irqchip);
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(4 << 20));
        _vm = _kvm.CreateVirtualMachine(_memory, new IoBus("pio"), new IoBus("mmio"));
    }

    [TearDown]
    public void TearDown()
    {
        _vm?.Dispose();
        _memory?.Dispose();
        _kvm?.Dispose();
    }

    private KvmVcpu RealModeVcpu(params byte[] code)
    {
        _memory.Write(Code, code);
        var vcpu = (KvmVcpu)_vm.CreateVcpu(0, null);
        KvmSregs sregs = vcpu.GetSpecialRegisters();
        sregs.Cs.Base = 0;
        sregs.Cs.Selector = 0;
        vcpu.SetSpecialRegisters(sregs);
        vcpu.SetRegisters(new KvmRegs { Rip = Code.Value, Rflags = 2 });
        return vcpu;
    }

    private static (VcpuExitReason Reason, ulong Address, byte[] Data) Next(KvmVcpu vcpu)
    {
        VcpuExit exit = vcpu.Run();
        return (exit.Reason, exit.Address, exit.Data.ToArray());
    }

    [Test]
    public void Real_mode_out_to_the_serial_port_exits_with_the_byte_then_halts()
    {
        CreateVm();
        // mov dx, 0x3f8; mov al, 'A'; out dx, al; hlt
        using KvmVcpu vcpu = RealModeVcpu(0xBA, 0xF8, 0x03, 0xB0, (byte)'A', 0xEE, 0xF4);
        Assert.That(Next(vcpu), Is.EqualTo((VcpuExitReason.IoOut, (ulong)Com1, new[] { (byte)'A' })));
        Assert.That(vcpu.Run().Reason, Is.EqualTo(VcpuExitReason.Halt));
    }

    [Test]
    public void Real_mode_in_takes_the_byte_the_caller_leaves_in_the_exit_data()
    {
        CreateVm();
        // mov dx, 0x3f8; in al, dx; inc al; out dx, al; hlt
        using KvmVcpu vcpu = RealModeVcpu(0xBA, 0xF8, 0x03, 0xEC, 0xFE, 0xC0, 0xEE, 0xF4);
        VcpuExit read = vcpu.Run();
        Assert.That((read.Reason, read.Address, read.Data.Length), Is.EqualTo((VcpuExitReason.IoIn, (ulong)Com1, 1)));
        read.Data[0] = 0x41;
        Assert.That(Next(vcpu), Is.EqualTo((VcpuExitReason.IoOut, (ulong)Com1, new byte[] { 0x42 })));
    }

    [Test]
    public void Real_mode_rep_outsb_delivers_each_byte_in_order()
    {
        CreateVm();
        _memory.Write(new GuestAddress(0x1100), "xyz"u8);
        using KvmVcpu vcpu = RealModeVcpu(0xBE, 0x00, 0x11, 0xB9, 0x03, 0x00, 0xBA, 0xF8, 0x03, 0xF3, 0x6E, 0xF4);
        var text = new List<byte>();
        while (true)
        {
            VcpuExit exit = vcpu.Run();
            if (exit.Reason != VcpuExitReason.IoOut)
                break;
            Assert.That((exit.Address, exit.Data.Length), Is.EqualTo(((ulong)Com1, 1)));
            text.Add(exit.Data[0]);
        }
        Assert.That(text, Is.EqualTo("xyz"u8.ToArray()));
    }

    [Test]
    public void Long_mode_entry_runs_64_bit_code_with_rsi_pointing_at_the_boot_info()
    {
        CreateVm();
        // mov dx, 0x3f8; mov al, 'B'; out dx, al; mov [0x70000000], al; hlt
        _memory.Write(Code, [0x66, 0xBA, 0xF8, 0x03, 0xB0, (byte)'B', 0xEE, 0x88, 0x04, 0x25, 0x00, 0x00, 0x00, 0x70, 0xF4]);
        var vcpu = (KvmVcpu)_vm.CreateVcpu(0, new BootState(BootCpuMode.Linux64, Code, new GuestAddress(0x7000)));
        using (vcpu)
        {
            Assert.That(Next(vcpu), Is.EqualTo((VcpuExitReason.IoOut, (ulong)Com1, new[] { (byte)'B' })));
            Assert.That(Next(vcpu), Is.EqualTo((VcpuExitReason.MmioWrite, 0x7000_0000UL, new[] { (byte)'B' })));
            Assert.That(vcpu.Run().Reason, Is.EqualTo(VcpuExitReason.Halt));
            KvmSregs sregs = vcpu.GetSpecialRegisters();
            Assert.That((sregs.Efer & X86.EferLma) != 0 && sregs.Cs.L == 1, Is.True, "the vCPU ran in 64-bit mode");
            Assert.That(vcpu.GetRegisters().Rsi, Is.EqualTo(0x7000UL));
        }
    }

    [Test]
    public void Pvh_entry_runs_32_bit_code_with_ebx_pointing_at_the_start_info()
    {
        CreateVm();
        // mov dx, 0x3f8; mov al, 'C'; out dx, al; hlt   (32-bit operand size: 66 for dx)
        _memory.Write(Code, [0x66, 0xBA, 0xF8, 0x03, 0xB0, (byte)'C', 0xEE, 0xF4]);
        var vcpu = (KvmVcpu)_vm.CreateVcpu(0, new BootState(BootCpuMode.Pvh, Code, new GuestAddress(0x6000)));
        using (vcpu)
        {
            Assert.That(Next(vcpu), Is.EqualTo((VcpuExitReason.IoOut, (ulong)Com1, new[] { (byte)'C' })));
            Assert.That(vcpu.Run().Reason, Is.EqualTo(VcpuExitReason.Halt));
            KvmSregs sregs = vcpu.GetSpecialRegisters();
            Assert.That((sregs.Cr0 & X86.Cr0Pg, sregs.Cs.Db, sregs.Cs.Base), Is.EqualTo((0UL, (byte)1, 0UL)));
            Assert.That(vcpu.GetRegisters().Rbx, Is.EqualTo(0x6000UL));
        }
    }

    [Test]
    public void A_fault_with_no_IDT_is_reported_as_a_triple_fault()
    {
        CreateVm();
        _memory.Write(Code, [0x0F, 0x0B]); // ud2
        using var vcpu = (KvmVcpu)_vm.CreateVcpu(0, new BootState(BootCpuMode.Linux64, Code, GuestAddress.Zero));
        VcpuExit exit = vcpu.Run();
        Assert.That(exit.Reason, Is.EqualTo(VcpuExitReason.Shutdown), exit.ToString());
        Assert.That(exit.Detail, Does.Contain("triple-faulted").And.Contain("RIP"));
    }

    [Test]
    public void RequestExit_from_another_thread_ends_a_run_blocked_in_the_kernel()
    {
        CreateVm(irqchip: true);
        // cli; hlt: with the in-kernel APIC the vCPU sleeps in KVM_RUN and nothing will wake it.
        using KvmVcpu vcpu = RealModeVcpu(0xFA, 0xF4);
        var requester = Task.Run(async () =>
        {
            await Task.Delay(200);
            vcpu.RequestExit();
        });
        var clock = Stopwatch.StartNew();
        Assert.That(vcpu.Run().Reason, Is.EqualTo(VcpuExitReason.Interrupted));
        requester.Wait();
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromMilliseconds(100)), "the run blocked until the request");
    }

    [Test]
    public void RequestExit_before_run_makes_the_next_run_return_interrupted_once()
    {
        CreateVm();
        using KvmVcpu vcpu = RealModeVcpu(0xBA, 0xF8, 0x03, 0xB0, (byte)'A', 0xEE, 0xF4);
        vcpu.RequestExit();
        Assert.That(vcpu.Run().Reason, Is.EqualTo(VcpuExitReason.Interrupted));
        Assert.That(vcpu.Run().Reason, Is.EqualTo(VcpuExitReason.IoOut));
    }

    [Test]
    public void Port_writes_through_the_bus_to_the_uart_allocate_nothing_on_the_exit_path()
    {
        CreateVm();
        var bus = new IoBus("pio");
        var uart = new Uart16550(irq: null, output: null);
        bus.Register(Com1, Uart16550.PortCount, uart);
        // mov dx, 0x3ff (scratch); mov cx, 2000; l: mov al, cl; out dx, al; loop l; hlt
        using KvmVcpu vcpu = RealModeVcpu(0xBA, 0xFF, 0x03, 0xB9, 0xD0, 0x07, 0x88, 0xC8, 0xEE, 0xE2, 0xFB, 0xF4);
        for (int i = 0; i < 100; i++)
            Dispatch(); // warm up: first calls may compile or fill caches

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
            Dispatch();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero);
        var scratch = new byte[1];
        Assert.That(bus.TryRead(Com1 + 7, scratch), Is.True);
        Assert.That(scratch[0], Is.EqualTo(unchecked((byte)(2000 - 1099))), "the 1100th write: cx's low byte then");

        void Dispatch()
        {
            VcpuExit exit = vcpu.Run();
            if (exit.Reason != VcpuExitReason.IoOut || !bus.TryWrite(exit.Address, exit.Data))
                Assert.Fail($"expected a claimed port write, got {exit.Reason} at 0x{exit.Address:x}");
        }
    }

    [Test]
    public void A_vcpu_run_from_a_second_thread_is_kicked_there()
    {
        CreateVm(irqchip: true);
        // out dx, al (one exit on the first thread); cli; hlt (the second blocks in KVM_RUN)
        using KvmVcpu vcpu = RealModeVcpu(0xBA, 0xF8, 0x03, 0xEE, 0xFA, 0xF4);
        VcpuExitReason first = Task.Run(() => vcpu.Run().Reason).Result;
        Assert.That(first, Is.EqualTo(VcpuExitReason.IoOut));
        var second = new Thread(() =>
        {
            Thread.Sleep(200);
            vcpu.RequestExit();
        });
        VcpuExitReason reason = VcpuExitReason.Failed;
        var runner = new Thread(() => reason = vcpu.Run().Reason);
        runner.Start();
        second.Start();
        Assert.That(runner.Join(TimeSpan.FromMinutes(1)), Is.True, "the kick reached the thread now running the vCPU");
        second.Join();
        Assert.That(reason, Is.EqualTo(VcpuExitReason.Interrupted));
    }
}
