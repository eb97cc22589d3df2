using System.Text;
using Lguest.Devices;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Console;

/// <summary>The console's two directions, their backpressure, and what it refuses.</summary>
public class VirtioConsoleDeviceTests
{
    private const int QuietMilliseconds = 300;

    [Test]
    public void The_console_offers_no_console_feature_two_queues_and_a_zero_configuration()
    {
        using var bed = new ConsoleTestBed(activate: false);
        Assert.That(bed.Device.DeviceType, Is.EqualTo(VirtioDeviceType.Console));
        Assert.That(bed.Device.DeviceFeatures, Is.EqualTo(VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1));
        Assert.That(bed.Device.QueueMaxSizes, Is.EqualTo(new ushort[] { 32, 32 }));
        var config = new byte[12];
        config.AsSpan().Fill(0xFF);
        bed.Device.ReadConfig(0, config);
        Assert.That((bed.Device.ConfigSize, config), Is.EqualTo((12, new byte[12])));
    }

    [Test]
    public void What_the_guest_transmits_reaches_the_host_output_and_the_buffer_comes_back_with_length_0()
    {
        using var bed = new ConsoleTestBed();
        ushort head = bed.Transmit.Add(bed.Transmit.Readable(Encoding.ASCII.GetBytes("hello, host\n")));
        bed.Transmit.Kick();
        Assert.That(bed.ReadHostOutput(12), Is.EqualTo("hello, host\n"));
        VringUsedElement used = bed.Transmit.WaitForUsed(bed.Transport);
        Assert.That((used.Id, used.Length), Is.EqualTo(((uint)head, 0u)));
        Assert.That(bed.Transport.Signals(VirtioConsoleDevice.TransmitQueueIndex), Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public void Chains_of_several_buffers_are_transmitted_whole_and_in_order()
    {
        using var bed = new ConsoleTestBed();
        bed.Transmit.Add(bed.Transmit.Readable("one "u8), bed.Transmit.Readable("two "u8));
        bed.Transmit.Add(bed.Transmit.Readable("three "u8));
        bed.Transmit.Add(indirect: true, bed.Transmit.Readable("four "u8), bed.Transmit.Readable("five"u8));
        bed.Transmit.Kick();
        Assert.That(bed.ReadHostOutput(23), Is.EqualTo("one two three four five"));
        bed.Transmit.WaitForUsed(bed.Transport, 3);
    }

    [Test]
    public void Host_input_is_delivered_into_the_guest_receive_buffer_with_its_length()
    {
        using var bed = new ConsoleTestBed();
        DriverBuffer[] buffers = bed.PostReceiveBuffers(64);
        bed.TypeOnHost("ls -l\r");
        VringUsedElement used = bed.Receive.WaitForUsed(bed.Transport);
        Assert.That(used.Length, Is.EqualTo(6u));
        Assert.That(bed.Text(buffers[0], used.Length), Is.EqualTo("ls -l\r"));
    }

    [Test]
    public void Input_typed_before_the_guest_posts_buffers_waits_and_then_arrives()
    {
        using var bed = new ConsoleTestBed();
        bed.TypeOnHost("early bird");
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        DriverBuffer[] buffers = bed.PostReceiveBuffers(64);
        VringUsedElement used = bed.Receive.WaitForUsed(bed.Transport);
        Assert.That(bed.Text(buffers[0], used.Length), Is.EqualTo("early bird"));
    }

    [Test]
    public void Input_larger_than_the_guest_buffers_arrives_whole_and_in_order_as_buffers_are_posted()
    {
        using var bed = new ConsoleTestBed();
        string input = string.Concat(Enumerable.Range(0, 2000).Select(i => $"{i};"));
        bed.TypeOnHost(input);
        var received = new StringBuilder();
        while (received.Length < input.Length)
        {
            bed.Arena.Reset();
            DriverBuffer[] buffers = bed.PostReceiveBuffers(1000, 500, 10);
            // The device fills buffers in the order posted; collect each as it comes back.
            for (int i = 0; i < buffers.Length && received.Length < input.Length; i++)
            {
                VringUsedElement used = bed.Receive.WaitForUsed(bed.Transport);
                received.Append(bed.Text(buffers[i], used.Length));
            }
            while (bed.Receive.TryTakeUsed(out _))
            {
            }
        }
        Assert.That(received.ToString(), Is.EqualTo(input));
    }

    [Test]
    public void A_full_host_output_holds_the_guest_buffers_until_the_host_reads()
    {
        using var bed = new ConsoleTestBed(outputPauseBytes: 1024);
        byte[] text = Enumerable.Repeat((byte)'x', 4096).ToArray();
        bed.Transmit.Add(bed.Transmit.Readable(text));
        bed.Transmit.Kick();
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        Assert.That(bed.Transmit.UsedIndex, Is.Zero, "the buffer stays with the device while the host output is full");
        Assert.That(bed.ReadHostOutput(4096), Has.Length.EqualTo(4096));
        bed.Transmit.WaitForUsed(bed.Transport);
    }

    [Test]
    public void A_device_readable_buffer_in_the_receive_queue_is_a_bad_driver()
    {
        using var bed = new ConsoleTestBed();
        bed.Receive.Add(bed.Receive.Readable("?"u8), bed.Receive.Writable(16));
        bed.Receive.Kick();
        bed.TypeOnHost("x");
        Assert.That(bed.Transport.WaitForBadDriver().Message, Does.Contain("console vq 0").And.Contain("receive queue"));
    }

    [Test]
    public void A_device_writable_buffer_in_the_transmit_queue_is_a_bad_driver()
    {
        using var bed = new ConsoleTestBed();
        bed.Transmit.Add(bed.Transmit.Readable("x"u8), bed.Transmit.Writable(16));
        bed.Transmit.Kick();
        Assert.That(bed.Transport.WaitForBadDriver().Message, Does.Contain("console vq 1").And.Contain("transmit queue"));
    }

    [Test]
    public void When_the_host_input_ends_the_guest_output_still_works()
    {
        using var bed = new ConsoleTestBed();
        bed.TypeOnHost("last words");
        bed.Input.Writer.Complete();
        DriverBuffer[] buffers = bed.PostReceiveBuffers(64);
        Assert.That(bed.Text(buffers[0], bed.Receive.WaitForUsed(bed.Transport).Length), Is.EqualTo("last words"));
        bed.Transmit.Add(bed.Transmit.Readable("still here"u8));
        bed.Transmit.Kick();
        Assert.That(bed.ReadHostOutput(10), Is.EqualTo("still here"));
    }

    [Test]
    public void Input_the_guest_had_no_buffer_for_at_a_reset_reaches_the_next_activation()
    {
        using var bed = new ConsoleTestBed();
        bed.TypeOnHost("kept across reset");
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        bed.Device.Reset();
        bed.Activate();
        DriverBuffer[] buffers = bed.PostReceiveBuffers(64);
        Assert.That(bed.Text(buffers[0], bed.Receive.WaitForUsed(bed.Transport).Length), Is.EqualTo("kept across reset"));
    }

    [Test]
    public void A_reset_while_waiting_for_host_input_returns_and_the_next_activation_gets_later_input()
    {
        using var bed = new ConsoleTestBed();
        DriverBuffer[] buffers = bed.PostReceiveBuffers(64);
        bed.Device.Reset();
        bed.TypeOnHost("after the reset");
        Assert.That(bed.Receive.UsedIndex, Is.Zero);
        bed.Activate();
        bed.Receive.Kick();
        Assert.That(bed.Text(buffers[0], bed.Receive.WaitForUsed(bed.Transport).Length), Is.EqualTo("after the reset"));
    }

    [Test]
    public void A_reset_while_the_host_output_is_full_returns_and_the_buffer_stays_unused()
    {
        using var bed = new ConsoleTestBed(outputPauseBytes: 1024);
        bed.Transmit.Add(bed.Transmit.Readable(new byte[4096]));
        bed.Transmit.Kick();
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        bed.Device.Reset(); // joins the transmit worker, blocked in its flush
        Assert.That(bed.Transmit.UsedIndex, Is.Zero);
    }

    [Test]
    public void A_pause_while_the_host_output_is_full_returns_the_buffer()
    {
        using var bed = new ConsoleTestBed(outputPauseBytes: 1024);
        bed.Transmit.Add(bed.Transmit.Readable(new byte[4096]));
        bed.Transmit.Kick();
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        bed.Device.Pause(); // the transmit worker, blocked in its flush, returns its chain before it stops
        Assert.That(bed.Transmit.UsedIndex, Is.EqualTo(1));
        bed.Device.Resume();
        bed.Device.Reset();
    }
}
