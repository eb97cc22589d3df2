namespace Lguest.Virtio;

// Legacy interrupts (virtio 1.2 §4.1.4.5, §4.1.5.3-4): the ISR status byte says why INTx# is raised;
// reading it returns and clears it and lowers the line. One lock orders setting a bit and raising the
// line against reading and lowering, so a notification can never be left with the line low, nor the
// line high with nothing to read (which a shared level-triggered line would turn into an interrupt storm).
public sealed partial class VirtioPciTransport
{
    private readonly Lock _isrLock = new();
    private byte _isr;

    private void ReadIsr(int offset, Span<byte> data)
    {
        if (offset != 0 || data.Length != 1)
        {
            ReportRegisterMisuse($"non-8-bit read from offset {IsrOffset + offset} ({data.Length} byte(s) at the one-byte isr)");
            return;
        }
        lock (_isrLock)
        {
            byte isr = _isr;
            data[0] = isr;
            if (isr != 0)
            {
                _isr = 0;
                SetInterruptLevel(false);
            }
        }
    }

    private void RaiseIsr(byte bits)
    {
        lock (_isrLock)
        {
            _isr |= bits;
            SetInterruptLevel(true);
        }
    }

    private void ClearIsr()
    {
        lock (_isrLock)
        {
            _isr = 0;
            SetInterruptLevel(false);
        }
    }

    // The device's view of the transport for one activation; dead after the next reset.
    private sealed class ActivationLink(VirtioPciTransport transport) : IVirtioTransport
    {
        private volatile bool _revoked;

        public void Revoke() => _revoked = true;

        public void SignalUsedBuffers(int queueIndex)
        {
            if (!_revoked)
                transport.RaiseIsr(VirtioPciCommonConfig.IsrQueue);
        }

        public void SignalConfigChange()
        {
            if (!_revoked)
                transport.RaiseIsr(VirtioPciCommonConfig.IsrConfig);
        }

        public void ReportBadDriver(BadDriverException badDriver)
        {
            ArgumentNullException.ThrowIfNull(badDriver);
            if (_revoked)
                return;
            _revoked = true;
            transport.MarkBroken(badDriver, onVcpu: false);
        }
    }
}
