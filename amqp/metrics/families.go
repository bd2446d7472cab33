package metrics

import "github.com/prometheus/client_golang/prometheus"

// A metric is one of rabbitmq_prometheus's metrics that Warren exports:
// its name without the "rabbitmq_" (or "rabbitmq_detailed_") prefix,
// its type and its HELP text, as RabbitMQ 3.10 prints them.
type metric struct {
	name string
	typ  prometheus.ValueType
	help string
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
	untyped = prometheus.UntypedValue
)

// Node-wide metrics: one series each, in every output but the detailed
// one (where only build_info and identity_info appear).
var (
	mConnectionsOpened = metric{"connections_opened_total", counter, "Total number of connections opened"}
	mConnectionsClosed = metric{"connections_closed_total", counter, "Total number of connections closed or terminated"}
	mChannelsOpened    = metric{"channels_opened_total", counter, "Total number of channels opened"}
	mChannelsClosed    = metric{"channels_closed_total", counter, "Total number of channels closed"}
	mQueuesDeclared    = metric{"queues_declared_total", counter, "Total number of queues declared"}
	mQueuesCreated     = metric{"queues_created_total", counter, "Total number of queues created"}
	mQueuesDeleted     = metric{"queues_deleted_total", counter, "Total number of queues deleted"}

	mOpenFDs         = metric{"process_open_fds", gauge, "Open file descriptors"}
	mOpenTCPSockets  = metric{"process_open_tcp_sockets", gauge, "Open TCP sockets"}
	mResidentMemory  = metric{"process_resident_memory_bytes", gauge, "Memory used in bytes"}
	mDiskAvailable   = metric{"disk_space_available_bytes", gauge, "Disk space available in bytes"}
	mMaxFDs          = metric{"process_max_fds", gauge, "Open file descriptors limit"}
	mMaxTCPSockets   = metric{"process_max_tcp_sockets", gauge, "Open TCP sockets limit"}
	mMemoryLimit     = metric{"resident_memory_limit_bytes", gauge, "Memory high watermark in bytes"}
	mDiskLimit       = metric{"disk_space_available_limit_bytes", gauge, "Free disk space low watermark in bytes"}
	mUptime          = metric{"erlang_uptime_seconds", gauge, "Node uptime"}
	mAlarmFDs        = metric{"alarms_file_descriptor_limit", untyped, "is 1 if file descriptor limit alarm is in effect"}
	mAlarmDisk       = metric{"alarms_free_disk_space_watermark", untyped, "is 1 if free disk space watermark alarm is in effect"}
	mAlarmMemory     = metric{"alarms_memory_used_watermark", untyped, "is 1 if VM memory watermark alarm is in effect"}
	mBuildInfo       = metric{"build_info", untyped, "RabbitMQ & Erlang/OTP version info"}
	mIdentityInfo    = metric{"identity_info", untyped, "RabbitMQ node & cluster identity info"}
	mConnections     = metric{"connections", gauge, "Connections currently open"}
	mChannels        = metric{"channels", gauge, "Channels currently open"}
	mConsumers       = metric{"consumers", gauge, "Consumers currently connected"}
	mQueues          = metric{"queues", gauge, "Queues available"}
	mQueuePublished  = metric{"queue_messages_published_total", counter, "Total number of messages published to queues"}
	mConnectionBytes = metric{"connection_incoming_bytes_total", counter, "Total number of bytes received on a connection"}
	mConnectionOut   = metric{"connection_outgoing_bytes_total", counter, "Total number of bytes sent on a connection"}
	mConnChannels    = metric{"connection_channels", gauge, "Channels on a connection"}
)

// Queue metrics, per queue (labels vhost, queue) or summed.
var (
	mQueueReady        = metric{"queue_messages_ready", gauge, "Messages ready to be delivered to consumers"}
	mQueueUnacked      = metric{"queue_messages_unacked", gauge, "Messages delivered to consumers but not yet acknowledged"}
	mQueueMessages     = metric{"queue_messages", gauge, "Sum of ready and unacknowledged messages - total queue depth"}
	mQueueConsumers    = metric{"queue_consumers", gauge, "Consumers on a queue"}
	mQueueReadyRAM     = metric{"queue_messages_ready_ram", gauge, "Ready messages stored in memory"}
	mQueueBytes        = metric{"queue_messages_bytes", gauge, "Size in bytes of ready and unacknowledged messages"}
	mQueueReadyBytes   = metric{"queue_messages_ready_bytes", gauge, "Size in bytes of ready messages"}
	mQueueUnackedBytes = metric{"queue_messages_unacked_bytes", gauge, "Size in bytes of all unacknowledged messages"}
	mQueuePagedOut     = metric{"queue_messages_paged_out", gauge, "Messages paged out to disk"}
)

// Channel metrics, per channel (label channel) or summed.
var (
	mChannelConsumers   = metric{"channel_consumers", gauge, "Consumers on a channel"}
	mChannelUnacked     = metric{"channel_messages_unacked", gauge, "Delivered but not yet acknowledged messages"}
	mChannelUnconfirmed = metric{"channel_messages_unconfirmed", gauge, "Published but not yet confirmed messages"}
	mConsumerPrefetch   = metric{"consumer_prefetch", gauge, "Limit of unacknowledged messages for each consumer"}
	mChannelPrefetch    = metric{"channel_prefetch", gauge, "Total limit of unacknowledged messages for all consumers on a channel"}
)

// Channel and exchange metrics (labels channel, vhost, exchange).
var (
	mPublished = metric{"channel_messages_published_total", counter, "Total number of messages published into an exchange on a channel"}
	mConfirmed = metric{"channel_messages_confirmed_total", counter, "Total number of messages published into an exchange and confirmed on the channel"}
	mReturned  = metric{"channel_messages_unroutable_returned_total", counter, "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable"}
	mDropped   = metric{"channel_messages_unroutable_dropped_total", counter, "Total number of messages published as non-mandatory into an exchange and dropped as unroutable"}
)

// Channel and queue metrics (labels channel, vhost, queue).
var (
	mGetAck       = metric{"channel_get_ack_total", counter, "Total number of messages fetched with basic.get in manual acknowledgement mode"}
	mGetNoAck     = metric{"channel_get_total", counter, "Total number of messages fetched with basic.get in automatic acknowledgement mode"}
	mDeliveredAck = metric{"channel_messages_delivered_ack_total", counter, "Total number of messages delivered to consumers in manual acknowledgement mode"}
	mDelivered    = metric{"channel_messages_delivered_total", counter, "Total number of messages delivered to consumers in automatic acknowledgement mode"}
	mRedelivered  = metric{"channel_messages_redelivered_total", counter, "Total number of messages redelivered to consumers"}
	mAcked        = metric{"channel_messages_acked_total", counter, "Total number of messages acknowledged by consumers"}
	mGetEmpty     = metric{"channel_get_empty_total", counter, "Total number of times basic.get operations fetched no message"}
)

// Cluster-wide metrics of the detailed families exchange_names,
// exchange_bindings and vhost_status: prefixed "rabbitmq_cluster_".
var (
	mExchangeName     = metric{"exchange_name", gauge, "Enumerates exchanges without any additional info. This value is cluster-wide. A cheaper alternative to `exchange_bindings`"}
	mExchangeBindings = metric{"exchange_bindings", gauge, "Number of bindings for an exchange. This value is cluster-wide."}
	mVhostStatus      = metric{"vhost_status", gauge, "Whether a given vhost is running"}
)

// RabbitMQ's global counters (rabbitmq_global_*), with its protocol and
// queue_type labels: Warren's queues are all classic queues on AMQP 0-9-1.
var (
	gReceived         = metric{"messages_received_total", counter, "Total number of messages received from publishers"}
	gRouted           = metric{"messages_routed_total", counter, "Total number of messages routed to queues or streams"}
	gConfirmed        = metric{"messages_confirmed_total", counter, "Total number of messages confirmed to publishers"}
	gReturned         = metric{"messages_unroutable_returned_total", counter, "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable"}
	gDropped          = metric{"messages_unroutable_dropped_total", counter, "Total number of messages published as non-mandatory into an exchange and dropped as unroutable"}
	gDelivered        = metric{"messages_delivered_total", counter, "Total number of messages delivered to consumers"}
	gConsumeManualAck = metric{"messages_delivered_consume_manual_ack_total", counter, "Total number of messages delivered to consumers using basic.consume with manual acknowledgment"}
	gConsumeAutoAck   = metric{"messages_delivered_consume_auto_ack_total", counter, "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment"}
	gGetManualAck     = metric{"messages_delivered_get_manual_ack_total", counter, "Total number of messages delivered to consumers using basic.get with manual acknowledgment"}
	gGetAutoAck       = metric{"messages_delivered_get_auto_ack_total", counter, "Total number of messages delivered to consumers using basic.get with automatic acknowledgment"}
	gGetEmpty         = metric{"messages_get_empty_total", counter, "Total number of times basic.get operations fetched no message"}
	gRedelivered      = metric{"messages_redelivered_total", counter, "Total number of messages redelivered to consumers"}
	gAcknowledged     = metric{"messages_acknowledged_total", counter, "Total number of messages acknowledged by consumers"}
	gGlobalConsumers  = metric{"consumers", gauge, "Current number of consumers"}
)
