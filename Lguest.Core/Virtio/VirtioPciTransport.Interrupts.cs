using Lguest.Pci;

namespace Lguest.Virtio;

// Interrupts (virtio 1.2 §4.1.4.5, §4.1.5.3-4). With MSI-X enabled, a used-buffer notification sends the
// queue's vector (nothing with NO_VECTOR), and a configuration change sets the ISR's configuration bit and
// sends config_msix_vector's; INTx# stays low. Otherwise, legacy interrupts: the ISR status byte says why
// INTx# is raised; reading it returns and clears it and lowers the line. One lock orders setting a bit and
// raising the line against reading and lowering, so a notification can never be left with the line low, nor
// the line high with nothing to read (which a shared level-triggered line would turn into an interrupt storm).
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
            // A function with MSI-X enabled must not use INTx# (PCI 3.0 §6.8.2): the bit waits for a read.
            SetInterruptLevel(_msix is not { Enabled: true });
        }
    }

    private void NotifyUsedBuffers(int queueIndex)
    {
        // queueIndex comes from the device, which only signals queues the transport gave it.
        if (_msix is not null && (uint)queueIndex < (uint)_queueVectors.Length && _msix.TrySignal(Volatile.Read(ref _queueVectors[queueIndex])))
            return;
        RaiseIsr(VirtioPciCommonConfig.IsrQueue);
    }

    private void NotifyConfigChange()
    {
        // §4.1.5.3: the ISR's configuration bit is set with MSI-X too. RaiseIsr raises INTx# only while MSI-X
        // is off, and TrySignal sends config_msix_vector's message only while it is on.
        RaiseIsr(VirtioPciCommonConfig.IsrConfig);
        _msix?.TrySignal(Volatile.Read(ref _configVector));
    }

    // Enabling MSI-X silences INTx#; disabling it lets a pending ISR bit raise the line again.
    private void OnMsixEnableChanged()
    {
        lock (_isrLock)
            SetInterruptLevel(_isr != 0 && _msix is not { Enabled: true });
    }

    // §4.1.4.3: a vector past the table cannot be mapped, and reads back NO_VECTOR.
    private ushort MapVector(ushort vector) =>
        _msix is not null && vector < _msix.VectorCount ? vector : VirtioPciCommonConfig.NoVector;

    private void ReadMsix(int at, Span<byte> data)
    {
        int width = data.Length;
        bool ok = _msix switch
        {
            null => false,
            _ when at < MsixPbaOffset => _msix.ReadTable(at - MsixTableOffset, data),
            _ => _msix.ReadPendingBits(at - MsixPbaOffset, data),
        };
        if (!ok)
            ReportRegisterMisuse($"{width}-byte read at BAR offset 0x{at:x} ({DescribeMsixArea(at)}: aligned dwords or qwords only)");
    }

    private void WriteMsix(int at, ReadOnlySpan<byte> data)
    {
        int width = data.Length;
        if (_msix is null || at >= MsixPbaOffset)
        {
            ReportRegisterMisuse($"{width}-byte write at BAR offset 0x{at:x} ({DescribeMsixArea(at)}: read-only)");
            return;
        }
        if (!_msix.WriteTable(at - MsixTableOffset, data))
            ReportRegisterMisuse($"{width}-byte write at BAR offset 0x{at:x} ({DescribeMsixArea(at)}: aligned dwords or qwords only)");
    }

    private string DescribeMsixArea(int at) => _msix is null ? "no register"
        : at < MsixPbaOffset ? (at - MsixTableOffset < _msix.TableSize ? "the MSI-X table" : "past the MSI-X table")
        : (at - MsixPbaOffset < _msix.PbaSize ? "the MSI-X PBA" : "past the MSI-X PBA");

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
                transport.NotifyUsedBuffers(queueIndex);
        }

        public void SignalConfigChange()
        {
            if (!_revoked)
                transport.NotifyConfigChange();
        }

        public void ReportBadDriver(BadDriverException badDriver)
        {
            ArgumentNullException.ThrowIfNull(badDriver);
            if (_revoked)
                return;
            _revoked = true;
            transport.MarkBroken(badDriver, onVcpu: false);
        }

        public void ReportDeviceFailure(string what, Exception? exception)
        {
            ArgumentNullException.ThrowIfNull(what);
            if (_revoked)
                return;
            _revoked = true;
            transport.MarkFailed(what, exception, onVcpu: false);
        }
    }
}
