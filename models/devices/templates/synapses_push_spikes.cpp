{# Event queue of a zero-delay synaptic pathway that stores the indices of the source
   neurons that emitted the event, not the indices of all their synapses (which
   Brian2's CSpikeQueue::push copies, value-initialising them first). The pathway's
   code (synapses.cpp of this folder) walks each source's synapse list in place.
   Selected per pathway by models.devices.use_source_queues(). #}
{# USES_VARIABLES { _n_sources, _n_targets, delay, _source_dt} #}

{% extends 'common_group.cpp' %}

{% block before_code %}
    {% set scalar = c_data_type(variables['delay'].dtype) %}
    std::vector<{{scalar}}> &real_delays = {{get_array_name(variables['delay'], access_data=False)}};
    {{scalar}}* real_delays_data = real_delays.empty() ? 0 : &(real_delays[0]);
    int32_t* sources = {{owner.name}}.sources.empty() ? 0 : &({{owner.name}}.sources[0]);
    const size_t n_delays = real_delays.size();
    const size_t n_synapses = {{owner.name}}.sources.size();
    {{owner.name}}.prepare({{constant_or_scalar('_n_sources', variables['_n_sources'])}},
                           {{constant_or_scalar('_n_targets', variables['_n_targets'])}},
                           real_delays_data, n_delays, sources,
                           n_synapses,
                           {{_source_dt}});
    if (!{{owner.name}}.queue[0]->scalar_delay || {{owner.name}}.queue[0]->delays[0] != 0)
    {
        std::cerr << "{{owner.name}}: this pathway's event queue needs zero delays" << std::endl;
        std::exit(1);
    }
{% endblock %}

{% block maincode %}
    {% set _eventspace = get_array_name(eventspace_variable) %}
    {
        CSpikeQueue * const _queue = {{owner.name}}.queue[0];
        _queue->advance();
        // Zero delay: this step's slot is the one the pathway reads in this step.
        std::vector<int32_t> &_slot = _queue->queue[_queue->offset];
        const int32_t _n_events = {{_eventspace}}[_num{{eventspace_variable.name}}-1];
        for (int32_t _k = 0; _k < _n_events; _k++)
        {
            const int32_t _source = {{_eventspace}}[_k];
            if (_source >= _queue->source_start && _source < _queue->source_end)
                _slot.push_back(_source - _queue->source_start);
        }
    }
{% endblock %}
